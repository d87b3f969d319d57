"""Apps, credentials, sharing applications (申请-审核-授权), grants and quotas."""
