"""Platform adapters: the contract (:mod:`.base`) and the built-in adapters."""

from .base import Adapter, AdapterError, Delivery, DeliveryError, PayloadError

__all__ = ["Adapter", "AdapterError", "Delivery", "DeliveryError", "PayloadError"]
