"""lbconsole: an operations console for LVS/IPVS + keepalived + nginx clusters."""

__version__ = "0.1.0"
