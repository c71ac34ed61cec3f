"""Every piece of Dagster's private API the project uses, in one place (checked against Dagster
1.13; a test keeps every other module off ``dagster._``). When Dagster changes, this is the
module to update.

- the run launcher's base class and launch context, code pointers and serialisation: what a
  launcher that forks runs needs (``launcher``);
- the run worker's body of ``dagster api execute_run`` and its interrupt handling: what a forked
  run executes (``fork_server``);
- the reconstructable repository a run is created from like the daemon creates one;
- ``DbIOManager``: the database I/O manager the warehouse's one-transaction handlers plug into.
"""

from dagster._cli.api import _execute_run_command_body as execute_run_command_body
from dagster._core.code_pointer import ModuleCodePointer, PackageCodePointer
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher import DefaultRunLauncher, LaunchRunContext
from dagster._core.storage.db_io_manager import DbIOManager
from dagster._serdes import ConfigurableClassData, deserialize_value, serialize_value
from dagster._utils.interrupts import capture_interrupts, setup_interrupt_handlers

__all__ = ["ConfigurableClassData", "DbIOManager", "DefaultRunLauncher", "InstanceRef", "LaunchRunContext",
           "ModuleCodePointer", "PackageCodePointer", "ReconstructableRepository", "capture_interrupts",
           "deserialize_value", "execute_run_command_body", "serialize_value", "setup_interrupt_handlers"]
