"""The README's options table is generated from conf/ and stays current."""

from pathlib import Path

from aelab.config import CONFIG_DIR
from aelab.experiments._docs import section
from aelab.options import GROUPS, INTERNAL, SECTION, defaults, options, table, write

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_options_table_is_todays_conf():
    assert section(README.read_text(), SECTION) == f"\n{table()}\n", (
        "README.md's options table is stale; run: python -m aelab.options README.md"
    )


def test_every_choice_group_has_a_row_and_every_option_is_listed():
    groups = {path.name for path in Path(CONFIG_DIR).iterdir() if path.is_dir()}
    assert groups - set(INTERNAL) == {group for _, group in GROUPS}  # a new group needs a row
    rows = {line.split(" | ")[1].strip("`="): line for line in table().splitlines()[2:]}
    for _, group in GROUPS:
        for option in options(group):
            assert f"`{option}`" in rows[group]
    assert "`mlp` (default)" in rows["model"] and "`terrain` (default)" in rows["data"]
    assert (
        defaults()["compression"] == "twentieth"
        and "`twentieth` (0.05) (default)" in rows["compression"]
    )
    assert "`classes` (default)" in rows["anomaly"]  # aelab-eval's default protocol


def test_a_new_option_file_shows_up_and_write_reports_the_change(tmp_path):
    conf = tmp_path / "conf"
    for group in {g for _, g in GROUPS}:
        (conf / group).mkdir(parents=True)
    (conf / "train.yaml").write_text("defaults:\n  - model: mlp\n  - optional tuning: ${model}\n")
    (conf / "eval.yaml").write_text("defaults:\n  - anomaly: classes\n")
    (conf / "model" / "mlp.yaml").write_text("lr: 0.1\n")
    (conf / "compression" / "third.yaml").write_text("ratio: 0.333\n")
    text = table(str(conf))
    assert "| `model=` | `mlp` (default) |" in text and "`third` (0.333)" in text
    readme = tmp_path / "README.md"
    readme.write_text(
        "before\n<!-- aelab:begin options -->\nold\n<!-- aelab:end options -->\nafter\n"
    )
    assert write(readme) is True and "old" not in readme.read_text()
    assert readme.read_text().startswith("before\n") and readme.read_text().endswith("after\n")
