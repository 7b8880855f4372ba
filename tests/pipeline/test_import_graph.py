"""The spine's import graph (read by grimp, function-level imports included): no module of pipeline/
imports, however indirectly, a module of pipeline/ that imports it back."""

import grimp


def test_pipeline_has_no_import_cycles():
    graph = grimp.build_graph("pipeline", "governance", "training", "audits", "model_cards")
    modules = sorted(m for m in graph.modules if m.startswith("pipeline."))
    cycles = []
    for module in modules:
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported.startswith("pipeline.") and graph.chain_exists(importer=imported, imported=module):
                back = graph.find_shortest_chain(importer=imported, imported=module)
                cycles.append(f"{module} -> {' -> '.join(back)}")
    assert modules and not cycles, "\n".join(cycles)
