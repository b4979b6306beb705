"""The browser client's ES modules as production serves them: collected by the manifest
storage (DEBUG off), each import must name the hashed copy of a module that was collected."""

import json
import re
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

SOURCE = Path(settings.BASE_DIR) / "static" / "js"
IMPORT = re.compile(r'^(?:import|export)\b[^;]*?\bfrom\s+"(\./[^"]+)";', re.MULTILINE)


def test_collected_modules_import_the_hashed_copies_of_each_other(tmp_path):
    production = {"BACKEND": "chatsite.storage.StaticFilesStorage"}
    storages = {**settings.STORAGES, "staticfiles": production}
    with override_settings(STORAGES=storages, STATIC_ROOT=tmp_path):
        call_command("collectstatic", "--noinput", "-v0")
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    modules = sorted(p.name for p in SOURCE.glob("*.js"))
    assert "main.js" in modules
    for name in modules:
        source = (SOURCE / name).read_text()
        collected = (tmp_path / manifest[f"js/{name}"]).read_text()
        wanted = [manifest[f"js/{spec[2:]}"] for spec in IMPORT.findall(source)]
        got = [f"js/{spec[2:]}" for spec in IMPORT.findall(collected)]
        assert got == wanted, name
        # Nothing else in the module changed.
        unhashed = re.sub(r'\.[0-9a-f]{12}\.js";', '.js";', collected)
        assert unhashed == source, name
    assert IMPORT.findall((SOURCE / "main.js").read_text()), "main.js imports the modules"


def test_client_modules_stay_small_and_import_no_cycle():
    graph = {p.name: [s[2:] for s in IMPORT.findall(p.read_text())] for p in SOURCE.glob("*.js")}
    sizes = {name: len((SOURCE / name).read_text().splitlines()) for name in graph}
    assert max(sizes.values()) <= 400, sizes
    done: set[str] = set()

    def visit(name, path):
        assert name not in path, f"import cycle: {' -> '.join([*path, name])}"
        if name in done:
            return
        for dep in graph[name]:
            assert dep in graph, f"{name} imports a missing module {dep}"
            visit(dep, [*path, name])
        done.add(name)

    visit("main.js", [])
    assert done == set(graph), "every module is reachable from the entry module"
    base = (Path(settings.BASE_DIR) / "templates" / "base.html").read_text()
    preloaded = re.findall(r"rel=\"modulepreload\" href=\"\{% static 'js/([^']+)' %\}", base)
    assert sorted(preloaded) == sorted(set(graph) - {"main.js"}), "base.html preloads each import"
