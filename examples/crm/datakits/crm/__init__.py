"""The CRM datakit: the consolidated contracts every system's customers are loaded into (B).

It knows no source. Each system's datakit (app, shop, exports) maps its own rows into these tables
with typed transforms (`requires("crm")`), and `config/targets/` says how their keys collide. The
loader fills `source_system` with the name of the source each row came from.
"""

from .tables import Customer, Person

__all__ = ["Customer", "Person"]
