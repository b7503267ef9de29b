"""The pieces the documentation site is built and checked with: fences, one-file validation, rendering."""

from __future__ import annotations

from pathlib import Path

from datakit.config.loader import validate_file
from datakit.config.models import KINDS
from datakit.config.reference import escape_prose, kind_reference, union_types
from datakit.utils.fences import fences

PAGE = """\
Text.

```yaml title="config/sources/a.yaml"
source: {name: a}
```

- a list item with a block:

    ```sh title="in another terminal" linenums="1"
    python api.py
    ```

````markdown
```yaml
not a block of its own
```
````
"""


def test_fences_keep_language_attributes_and_line_and_unindent_nested_blocks() -> None:
    found = fences(Path("page.md"), PAGE)
    assert [(f.language, f.line, f.title) for f in found] == [
        ("yaml", 3, "config/sources/a.yaml"),
        ("sh", 9, "in another terminal"),
        ("markdown", 13, None),
    ]
    assert found[1].text == "python api.py\n"
    assert found[1].attributes["linenums"] == "1"
    assert "not a block of its own" in found[2].text


def test_validate_file_checks_one_file_alone_and_names_its_problems() -> None:
    kind, problems = validate_file(
        Path("config/sources/a.yaml"),
        "source:\n  name: a\n  type: files\n  base_path: d\n  resourcez: []\n",
    )
    assert kind is KINDS["source"]
    assert [(p.line, p.column, p.field, p.suggestion) for p in problems] == [
        (5, 3, "resourcez", "did you mean 'resources'?")
    ]
    kind, problems = validate_file(Path("x.yaml"), "source: {}\npipeline: {}\n")
    assert kind is None
    assert "one object per file" in problems[0].message


def test_the_reference_renders_each_union_type_with_its_defaults_in_yaml_terms() -> None:
    page = kind_reference(KINDS["job"]).markdown
    assert "| `retry_delay` | duration | `1m` |" in page  # not Pydantic's ISO 8601 `PT1M`
    assert "`dbt_<command>`" in page  # code spans are not HTML-escaped; prose is
    assert escape_prose("a <b> `<c>`") == "a &lt;b&gt; `<c>`"
    triggers = kind_reference(KINDS["trigger"])
    assert set(triggers.types) == set(union_types(KINDS["trigger"])) >= {"cron", "webhook"}
    assert all(f"{{#type-{t}}}" in triggers.markdown for t in triggers.types)
