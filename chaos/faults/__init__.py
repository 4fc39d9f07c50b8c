"""Fault kinds the tool applies, one module each, registered by kind name in REGISTRY.

Like the proxy's own toxics (chaos/proxy/toxics/): each kind is a small frozen
model of its parameters with describe(), apply(ctx) and an idempotent
revert(ctx); what they share lives in `base`. `injector.Injector` applies them
to a stack.
"""

# Importing each kind's module registers it.
from chaos.faults.base import REGISTRY, FaultKind
from chaos.faults.deploy import Deploy
from chaos.faults.index import Index
from chaos.faults.pause import Pause
from chaos.faults.process import ProcessFault
from chaos.faults.proxy_down import ProxyDown
from chaos.faults.reload import Reload
from chaos.faults.setting import Setting
from chaos.faults.switch import Switch
from chaos.faults.toxic import Toxic

__all__ = [
    "REGISTRY",
    "Deploy",
    "FaultKind",
    "Index",
    "Pause",
    "ProcessFault",
    "ProxyDown",
    "Reload",
    "Setting",
    "Switch",
    "Toxic",
]
