"""`salescast data sample|summary`: files written, tables printed, bad files as one-line errors (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.sample_data import sample_csv_bytes
from salescast.cli.main import main
from tests.conftest import REPO_ROOT, SAMPLE_DATA


def test_sample_writes_the_requested_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.csv"
    assert (
        main(["data", "sample", "--out", str(out), "--seed", "3", "--years", "0.25", "--start", "2024-01-01"])
        == 0
    )
    assert out.read_bytes() == sample_csv_bytes(3, "2024-01-01", 0.25)
    assert f"wrote {out}" in capsys.readouterr().out

    again = tmp_path / "again.csv"
    assert (
        main(
            ["data", "sample", "--out", str(again), "--seed", "3", "--years", "0.25", "--start", "2024-01-01"]
        )
        == 0
    )
    assert again.read_bytes() == out.read_bytes()


def test_sample_sparse_profile_gzip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sparse.csv.gz"
    assert main(["data", "sample", "--out", str(out), "--profile", "sparse", "--years", "1"]) == 0
    assert "profile sparse" in capsys.readouterr().out
    assert main(["data", "summary", "--data", str(out)]) == 0
    table = capsys.readouterr().out
    assert all(name in table for name in ("Beauty", "Clothing", "Electronics"))


def test_summary_prints_a_table_per_category(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "summary", "--data", str(SAMPLE_DATA)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert str(SAMPLE_DATA) in lines[0]
    assert lines[1].split() == ["category", "days", "first", "last", "total", "mean", "std", "zero", "days"]
    rows = {line.split()[0]: line.split() for line in lines[3:]}
    assert sorted(rows) == ["Beauty", "Clothing", "Electronics"]
    beauty = rows["Beauty"]
    assert int(beauty[1]) >= 730
    assert beauty[2] == "2023-01-01"
    assert beauty[-1].endswith("%") and float(beauty[-1].rstrip("%")) > 0


def test_summary_with_column_overrides_and_date_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "shop.csv"
    path.write_text("Tag,Warengruppe,Umsatz\n01/02/2024,Bücher,10\n03/02/2024,Bücher,5\n", encoding="utf-8")
    argv = [
        "data",
        "summary",
        "--data",
        str(path),
        "--date-column",
        "Tag",
        "--category-column",
        "Warengruppe",
    ]
    argv += ["--amount-column", "Umsatz", "--date-format", "%d/%m/%Y"]
    assert main(argv) == 0
    row = capsys.readouterr().out.splitlines()[3].split()
    assert row[:4] == ["Bücher", "3", "2024-02-01", "2024-02-03"]
    assert row[4] == "15.00"
    assert row[-1] == "33.3%"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Date,Category,Total Amount\n2024-01-01,Beauty,1\n", "missing column(s) 'Product Category'"),
        (
            "Date,Product Category,Total Amount\n2024-01-01,Beauty,1\nnot-a-day,Beauty,2\n",
            "line 3: 'not-a-day'",
        ),
        ("Date,Product Category,Total Amount\n2024-01-01,Beauty,lots\n", "'Total Amount'"),
        ("", "is empty"),
    ],
    ids=["missing-column", "bad-date", "bad-amount", "empty"],
)
def test_bad_files_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    assert main(["data", "summary", "--data", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("salescast: error: ")
    assert str(path) in err[0] and expected in err[0]


def test_missing_data_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "summary", "--data", str(tmp_path / "none.csv")]) == 2
    assert "none.csv does not exist" in capsys.readouterr().err


def test_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("Date,Product Category,Total Amount\n2024-01-01,Beauty,1\n2024-01-02,Beauty,?\n")
    result = subprocess.run(
        [sys.executable, "-m", "salescast", "data", "summary", "--data", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"salescast: error: {path}: column 'Total Amount' has 1 value(s) not a number: line 3: '?'; "
        "expected numbers like 150 or 39.90"
    ]


def test_unknown_profile_is_rejected_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "sample", "--profile", "dense"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'dense'" in capsys.readouterr().err


def test_sample_does_not_replace_other_data_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sales.csv"
    out.write_text("Date,Product Category,Total Amount\n2024-01-01,Real,1\n")
    argv = ["data", "sample", "--out", str(out), "--years", "0.1"]
    assert main(argv) == 2
    assert "pass --force" in capsys.readouterr().err
    assert "Real" in out.read_text()

    assert main([*argv, "--force"]) == 0
    assert "Real" not in out.read_text()
    assert main(argv) == 0  # the same sample again needs no --force
