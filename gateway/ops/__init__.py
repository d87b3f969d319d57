"""What operators ask of a node: traces gathered from every node, and the audit trail."""
