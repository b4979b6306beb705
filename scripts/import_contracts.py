"""An import-linter contract of our own: no module imports itself through a chain.

import-linter's `acyclic_siblings` finds cycles between the modules of one package; a cycle
through two apps (accounts.x -> chats.y -> accounts.x) is between no siblings, and this
contract finds it. Function-local imports count: grimp reads every import statement.
"""

from __future__ import annotations

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain.contract import Contract, ContractCheck


class AcyclicModulesContract(Contract):
    type_name = "acyclic_modules"

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        cycles = []
        for module in sorted(graph.modules):
            for imported in sorted(graph.find_modules_directly_imported_by(module)):
                back = graph.find_shortest_chain(importer=imported, imported=module)
                if back is not None:
                    cycles.append([module, *back])
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            output.print_error(" -> ".join(cycle))
            output.new_line()
