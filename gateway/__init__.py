"""yrd-gateway: the federated data gateway of the Yangtze River Delta (长三角) provinces."""

__all__ = ["__version__"]
__version__ = "0.1.0"
