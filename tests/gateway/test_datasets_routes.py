"""POST/GET /api/datasets and PUT /api/datasets/active: uploads are checked like training reads them,
stored content-addressed, and only an activation changes what history and jobs read."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.datasets import FILES_DIR
from core.settings import Settings
from tests.gateway.conftest import API_KEY
from tests.support.messy_csv import MESSY_CATEGORIES, messy_csv_text

MESSY_BYTES = b"\xef\xbb\xbf" + messy_csv_text(days=60).encode("utf-8")


def upload(
    client: TestClient,
    content: bytes,
    name: str = "export.csv",
    headers: dict[str, str] | None = None,
    **form: str,
) -> Any:
    return client.post(
        "/api/datasets", files={"file": (name, content, "text/csv")}, data=form, headers=headers
    )


def upload_form(client: TestClient, content: bytes, form: dict[str, str]) -> Any:
    return client.post("/api/datasets", files={"file": ("export.csv", content, "text/csv")}, data=form)


def datasets_root(client: TestClient) -> Path:
    settings: Settings = client.app.state.gateway.settings  # type: ignore[attr-defined]
    return settings.paths.datasets


def stored_files(client: TestClient) -> list[Path]:
    folder = datasets_root(client) / FILES_DIR
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_messy_export_is_detected_summarized_and_stored_content_addressed(client: TestClient) -> None:
    response = upload(client, MESSY_BYTES)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["columns"] == {
        "date": "Order Date",
        "category": "Dept",
        "amount": "Net Sales",
        "date_format": None,
    }
    assert [item["category"] for item in body["categories"]] == sorted(MESSY_CATEGORIES)
    cafe = next(item for item in body["categories"] if item["category"] == "Café Crème")
    assert cafe == {
        "category": "Café Crème",
        "days": 60,
        "first": "2024-01-01",
        "last": "2024-02-29",
        "zero_days_pct": 0.0,
    }
    # every detected column is named with the reason it was chosen
    assert "date column 'Order Date': the only column of dates" in body["warnings"]
    assert any(note.startswith("amount column 'Net Sales': its name") for note in body["warnings"])
    assert any(note.startswith("category column 'Dept': its name") for note in body["warnings"])
    sha = hashlib.sha256(MESSY_BYTES).hexdigest()
    assert body["sha256"] == sha
    [stored] = stored_files(client)
    assert stored.name == f"{sha}.csv"
    assert stored.read_bytes() == MESSY_BYTES  # kept byte for byte: formula cells stay text
    assert not list((datasets_root(client) / ".staging").iterdir())
    # uploaded, not active
    listing = client.get("/api/datasets").json()
    assert listing["active"] == "default"
    assert [item["dataset_id"] for item in listing["datasets"]] == ["default", body["dataset_id"]]
    assert [item["active"] for item in listing["datasets"]] == [True, False]


def test_activation_switches_history_and_back(client: TestClient) -> None:
    uploaded = upload(client, MESSY_BYTES).json()
    assert client.get("/api/history/Café Crème").status_code == 404
    activated = client.put("/api/datasets/active", json={"dataset_id": uploaded["dataset_id"]})
    assert activated.status_code == 200 and activated.json()["active"] is True
    history = client.get("/api/history/café crème").json()
    assert history["category"] == "Café Crème" and history["days"] == 60
    formula = client.get("/api/history/=1+1 Gifts")
    assert formula.status_code == 200 and formula.json()["category"] == "=1+1 Gifts"
    assert client.get("/api/history/Beauty").status_code == 404
    listing = client.get("/api/datasets").json()
    assert listing["active"] == uploaded["dataset_id"]
    client.put("/api/datasets/active", json={"dataset_id": "default"}).raise_for_status()
    assert client.get("/api/history/Beauty").status_code == 200


def test_same_file_twice_is_one_file(client: TestClient) -> None:
    first, second = upload(client, MESSY_BYTES).json(), upload(client, MESSY_BYTES, name="again.csv").json()
    assert first["dataset_id"] == second["dataset_id"]
    assert len(stored_files(client)) == 1
    mapped = upload(client, MESSY_BYTES, amount_column="Qty").json()
    assert mapped["dataset_id"] != first["dataset_id"] and mapped["columns"]["amount"] == "Qty"
    assert len(stored_files(client)) == 1


def test_gzip_upload(client: TestClient) -> None:
    response = upload(client, gzip.compress(MESSY_BYTES), name="export.csv.gz")
    assert response.status_code == 201, response.text
    [stored] = stored_files(client)
    assert stored.name.endswith(".csv.gz")


AMBIGUOUS = (
    "Day,Dept,Net Sales,Gross Sales\r\n2024-01-01,A,10,12\r\n2024-01-02,A,11,13\r\n2024-01-02,B,5,6\r\n"
)


def test_ambiguous_column_is_422_listing_the_candidates(client: TestClient) -> None:
    response = upload(client, AMBIGUOUS.encode())
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "export.csv: cannot tell which column holds the amount: 'Net Sales', 'Gross Sales' all hold amounts; "
        "choose one with amount_column"
    )
    chosen = upload(client, AMBIGUOUS.encode(), amount_column="Gross Sales")
    assert chosen.status_code == 201, chosen.text
    assert chosen.json()["columns"]["amount"] == "Gross Sales"


@pytest.mark.parametrize(
    ("content", "form", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", {}, "export.csv: the file is a PNG image, not a CSV"),
        (b"PK\x03\x04\x14\x00\x06\x00", {}, "export.csv: the file is a ZIP archive (an Excel .xlsx"),
        (b"", {}, "export.csv: the file is empty"),
        (
            b"a;b;c\n1;2;3\n",
            {},
            "export.csv: line 1 has 1 column(s) ('a;b;c'); expected a comma-separated header",
        ),
        (
            AMBIGUOUS.encode(),
            {"amount_column": "Revenue"},
            "export.csv: amount_column 'Revenue' is not a column of the file; its columns are 'Day', 'Dept'",
        ),
        (
            b"When,Dept,Amount\nsoon,A,1\nlater,A,2\n",
            {},
            "export.csv: no column holds dates in the first 2 rows",
        ),
        (
            b"Date,Dept,Amount\n2024-01-01,A,1\n2024-01-02,A,2\n2024-13-45,A,3\n" + b"2024-01-03,A,4\n" * 40,
            {"date_column": "Date"},
            "export.csv: column 'Date' has 1 value(s) not a date: line 4: '2024-13-45'; expected dates like",
        ),
        (
            b"Date,Dept,Amount\n2024-01-01,A,1\n2024-01-02,A,=1+1\n",
            {"amount_column": "Amount"},
            "export.csv: column 'Amount' has 1 value(s) not a number: line 3: '=1+1'",
        ),
    ],
)
def test_bad_files_are_422_and_change_nothing(
    client: TestClient, content: bytes, form: dict[str, str], expected: str
) -> None:
    response = upload_form(client, content, form)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(expected), response.json()["detail"]
    assert stored_files(client) == []
    assert client.get("/api/datasets").json()["active"] == "default"
    assert client.get("/api/history/Beauty").status_code == 200


def test_too_big_upload_is_413_before_it_is_read(make_client: Callable[..., TestClient]) -> None:
    client = make_client(gateway={"max_upload_bytes": 1000})
    response = upload(client, MESSY_BYTES)
    assert response.status_code == 413
    assert "gateway.max_upload_bytes" in response.json()["detail"]
    assert stored_files(client) == []
    # a small file still passes; other POST routes keep their own limit
    small = b"Date,Dept,Amount\n" + b"".join(f"2024-01-{d:02d},A,{d}\n".encode() for d in range(1, 29))
    assert upload(client, small).status_code == 201


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"--b\r\n--b--\r\n", "Invalid multipart data."),  # found by Schemathesis: a part without headers
        (b"--b\r\nContent-Type: text/csv\r\n\r\nx\r\n--b--\r\n", '"name" must be provided'),
    ],
)
def test_unreadable_multipart_body_is_422(client: TestClient, body: bytes, expected: str) -> None:
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    response = client.post("/api/datasets", content=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("the request body could not be read: ")
    assert expected in response.json()["detail"]


def test_missing_file_field_is_422(client: TestClient) -> None:
    response = client.post("/api/datasets", data={"date_column": "Date"})
    assert response.status_code == 422
    assert "file: field required" in response.json()["detail"]


@pytest.mark.parametrize("dataset_id", ["0123456789abcdef", "\x00", "../../active", "records/x"])
def test_unknown_dataset_is_404(client: TestClient, dataset_id: str) -> None:
    response = client.put("/api/datasets/active", json={"dataset_id": dataset_id})
    assert response.status_code == 404
    assert response.json()["detail"] == f"no dataset with id {dataset_id!r}; datasets: default"


def test_upload_and_activation_need_the_api_key(keyed_client: TestClient) -> None:
    assert upload(keyed_client, MESSY_BYTES).status_code == 401
    assert upload(keyed_client, MESSY_BYTES, headers={"X-API-Key": "wrong"}).status_code == 403
    assert keyed_client.put("/api/datasets/active", json={"dataset_id": "default"}).status_code == 401
    assert keyed_client.get("/api/datasets").status_code == 200
    assert upload(keyed_client, MESSY_BYTES, headers={"X-API-Key": API_KEY}).status_code == 201


def test_training_job_records_the_active_dataset(make_client: Callable[..., TestClient]) -> None:
    client = make_client(gateway={"job_queue_size": 2})
    uploaded = upload(client, MESSY_BYTES).json()
    client.put("/api/datasets/active", json={"dataset_id": uploaded["dataset_id"]}).raise_for_status()
    unknown = client.post("/api/train", json={"categories": ["Beauty"]})
    assert unknown.status_code == 422
    assert "known: =1+1 Gifts, Café Crème, Home, Garden & Patio" in unknown.json()["detail"]
    accepted = client.post("/api/train", json={"categories": ["café crème"], "deploy": "never"})
    assert accepted.status_code == 202, accepted.text
    job = client.get(accepted.json()["status_url"]).json()
    assert job["categories"] == ["Café Crème"]
    assert job["dataset_id"] == uploaded["dataset_id"]
    assert job["dataset_sha256"] == uploaded["sha256"]
    assert job["dataset_name"] == "export.csv"


def test_version_plots_are_served_and_nothing_else(client: TestClient) -> None:
    settings: Settings = client.app.state.gateway.settings  # type: ignore[attr-defined]
    folder = settings.paths.artifacts / "cafe-creme" / "20240101.120000"
    folder.mkdir(parents=True)
    (folder / "loss.png").write_bytes(b"\x89PNG loss")
    ok = client.get("/api/models/Café Crème/versions/20240101.120000/plots/loss")
    assert ok.status_code == 200 and ok.content == b"\x89PNG loss"
    assert ok.headers["content-type"] == "image/png"
    missing = client.get("/api/models/Café Crème/versions/20240101.120000/plots/forecast")
    assert missing.status_code == 404
    assert client.get("/api/models/Café Crème/versions/..%2F..%2Fetc/plots/loss").status_code == 404
    assert client.get("/api/models/Café Crème/versions/20240101.120000/plots/model").status_code == 422
