"""The Pagila datakit: contracts of the Pagila DVD-rental database, its bronze layer, and transforms.

    source/     one SQLModel class per Pagila table, as the live database has it (layer `source`)
    bronze/     the same tables at layer bronze (history on for customer and film)
    transforms  typed row transforms named in pipeline YAML (`transform: customer_bronze_transform`)
    factories   test rows for these contracts

Pipelines name this datakit (`datakit: pagila`) and its tables by name (`contract: customer`); datakit
finds the classes by itself. `Source.Customer` and `Bronze.Customer` read as in the seeds.
"""

from .bronze import public as Bronze
from .source import public as Source
from .transforms import customer_bronze_transform

__all__ = ["Bronze", "Source", "customer_bronze_transform"]
