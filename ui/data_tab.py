"""Data tab: bring your own sales file — upload it, map its columns, check it, and make it the active dataset.

A preview of the file's first rows is read here (the file is on the UI's side until it is sent) so
the column lists can be filled; every real check happens in the gateway (`POST /api/datasets`),
which reads the whole file the way training will and answers with a per-category summary, or with
the line and column of the first problem. Activating (`PUT /api/datasets/active`) switches history,
the Explore tab and new training jobs to the dataset; served models are untouched until retrained.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from ui.api_models import DatasetList, DatasetUploaded
from ui.formatting import message_html
from ui.gateway_client import GatewayClient, GatewayError
from ui.widgets import tab_intro

INTRO = (
    "Upload a CSV (or .csv.gz) export of transactions: one row per sale with a date, a category and an "
    "amount. The gateway reads the whole file the way training will; nothing in it is ever executed."
)


@dataclass
class DataTab:
    """Components the app wires to other tabs."""

    activate: gr.Button
    datasets: gr.Dataframe
    choice: gr.Dropdown


DETECT = "(detect)"
PREVIEW_ROWS = 8
ROLES = ("date", "category", "amount")
SUMMARY_COLUMNS = ["Category", "Days", "First day", "Last day", "Days without sales"]
DATASET_COLUMNS = [
    "Active",
    "Name",
    "Dataset id",
    "Categories",
    "Uploaded (UTC)",
    "Size",
    "Date / category / amount",
]


def read_preview(path: str) -> pd.DataFrame:
    """The first rows of the chosen file as text (BOM, gzip and quoted fields handled like the loader);
    raises ValueError with a readable reason."""
    try:
        frame: pd.DataFrame = pd.read_csv(
            path,
            nrows=PREVIEW_ROWS,
            dtype=str,
            keep_default_na=False,
            encoding="utf-8-sig",
            compression="infer",
            index_col=False,
        )
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text (is it a spreadsheet? export it as CSV)") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, EOFError) as exc:
        raise ValueError(" ".join(str(exc).split()) or type(exc).__name__) from None
    frame.columns = [str(name).strip() for name in frame.columns]
    return frame


def summary_frame(uploaded: DatasetUploaded) -> pd.DataFrame:
    """One row per category of a dataset."""
    rows = [
        [item.category, item.days, item.first, item.last, f"{item.zero_days_pct:.1f}%"]
        for item in uploaded.categories
    ]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def datasets_frame(listing: DatasetList) -> pd.DataFrame:
    """Every dataset, the active one marked."""
    rows = []
    for dataset in listing.datasets:
        size = f"{dataset.size_bytes / 1e6:.2f} MB" if dataset.size_bytes is not None else ""
        columns = f"{dataset.columns.date} / {dataset.columns.category} / {dataset.columns.amount}"
        rows.append(
            [
                "✔" if dataset.active else "",
                dataset.name,
                dataset.dataset_id,
                ", ".join(item.category for item in dataset.categories),
                (dataset.uploaded_at or "configured file").replace("T", " ").rstrip("Z"),
                size,
                columns,
            ]
        )
    return pd.DataFrame(rows, columns=DATASET_COLUMNS)


def dataset_choices(listing: DatasetList) -> list[tuple[str, str]]:
    """(label, id) per dataset for the activate dropdown."""
    return [
        (f"{dataset.name} ({dataset.dataset_id}){' — active' if dataset.active else ''}", dataset.dataset_id)
        for dataset in listing.datasets
    ]


@dataclass
class DataHandlers:
    """Event handlers of the Data tab (plain methods, so tests call them directly too)."""

    client: GatewayClient

    def preview(self, path: str | None) -> tuple[pd.DataFrame, Any, Any, Any, str]:
        """Preview and column choices for the chosen file ("(detect)" first: let the gateway decide)."""
        if not path:
            empty = gr.Dropdown(choices=[DETECT], value=DETECT)
            return pd.DataFrame(), empty, empty, empty, ""
        try:
            frame = read_preview(path)
        except ValueError as exc:
            empty = gr.Dropdown(choices=[DETECT], value=DETECT)
            text = f"Cannot preview {Path(path).name}: {exc}. Upload it anyway to see the gateway's check."
            return pd.DataFrame(), empty, empty, empty, message_html("warning", text)
        choices = [DETECT, *frame.columns]
        text = f"{Path(path).name}: {len(frame.columns)} columns. Map them, or leave “(detect)”, then upload."
        return (
            frame,
            gr.Dropdown(choices=choices, value=DETECT),
            gr.Dropdown(choices=choices, value=DETECT),
            gr.Dropdown(choices=choices, value=DETECT),
            message_html("info", text),
        )

    def upload(
        self,
        path: str | None,
        date_column: str | None,
        category_column: str | None,
        amount_column: str | None,
        date_format: str | None,
    ) -> tuple[pd.DataFrame, str, str, pd.DataFrame, Any]:
        """Send the file to the gateway; the summary per category, notes, message, datasets list and the
        activate choice (set to the new dataset)."""
        if not path:
            return (
                pd.DataFrame(columns=SUMMARY_COLUMNS),
                "",
                message_html("error", "Choose a file first."),
                *self._listing(),
            )
        chosen = {
            role: (None if value in (None, "", DETECT) else value)
            for role, value in zip(ROLES, (date_column, category_column, amount_column), strict=True)
        }
        file = Path(path)
        try:
            uploaded = self.client.upload_dataset(
                file.name, file.read_bytes(), chosen, (date_format or "").strip() or None
            )
        except GatewayError as exc:
            text = f"Could not use {file.name}: {exc}"
            return pd.DataFrame(columns=SUMMARY_COLUMNS), "", message_html("error", text), *self._listing()
        notes = "\n".join(f"- {note}" for note in uploaded.warnings)
        text = (
            f"Checked and stored {uploaded.name} as dataset `{uploaded.dataset_id}`: "
            f"{len(uploaded.categories)} categories, read with date = {uploaded.columns.date!r}, "
            f"category = {uploaded.columns.category!r}, amount = {uploaded.columns.amount!r}. "
            "Activate it below to explore and train on it."
        )
        frame, choice = self._listing(select=uploaded.dataset_id)
        return summary_frame(uploaded), notes, message_html("ok", text), frame, choice

    def activate(self, dataset_id: str | None) -> tuple[str, pd.DataFrame, Any]:
        """Make the chosen dataset active; message, refreshed list and choice."""
        if not dataset_id:
            return message_html("error", "Choose a dataset to activate."), *self._listing()
        try:
            dataset = self.client.activate_dataset(dataset_id)
        except GatewayError as exc:
            return message_html("error", f"Could not activate {dataset_id}: {exc}"), *self._listing()
        categories = ", ".join(item.category for item in dataset.categories)
        text = (
            f"{dataset.name} is now the active dataset: Explore and new training jobs use it "
            f"({categories}). Served models keep serving until you train them on it."
        )
        return message_html("ok", text), *self._listing(select=dataset.dataset_id)

    def datasets(self) -> tuple[pd.DataFrame, Any]:
        """The datasets list and activate choices (on page load and after changes)."""
        return self._listing()

    def _listing(self, select: str | None = None) -> tuple[pd.DataFrame, Any]:
        try:
            listing = self.client.datasets()
        except GatewayError:
            return pd.DataFrame(columns=DATASET_COLUMNS), gr.Dropdown(choices=[], value=None)
        return datasets_frame(listing), gr.Dropdown(
            choices=dataset_choices(listing), value=select or listing.active
        )


def build_data_tab(handlers: DataHandlers) -> DataTab:
    """Lay out the tab inside the current `gr.Tab` and wire its events."""
    tab_intro(INTRO)
    with gr.Row():
        with gr.Column(scale=2):
            file = gr.File(
                label="Sales file", file_types=[".csv", ".gz"], type="filepath", elem_id="data-file"
            )
        with gr.Column(scale=3):
            with gr.Row():
                date_column = gr.Dropdown(
                    choices=[DETECT], value=DETECT, label="Date column", elem_id="data-date"
                )
                category_column = gr.Dropdown(
                    choices=[DETECT], value=DETECT, label="Category column", elem_id="data-category"
                )
                amount_column = gr.Dropdown(
                    choices=[DETECT], value=DETECT, label="Amount column", elem_id="data-amount"
                )
            date_format = gr.Textbox(
                label="Date format (only for ambiguous dates)",
                placeholder='empty = detect; e.g. "%d/%m/%Y" for 24/02/2023',
                elem_id="data-date-format",
            )
            upload = gr.Button("Upload and check", variant="primary", elem_id="data-upload")
    message = gr.HTML(elem_id="data-message")
    preview = gr.Dataframe(label=f"First {PREVIEW_ROWS} rows", interactive=False, elem_id="data-preview")
    notes = gr.Markdown(elem_id="data-notes")
    summary = gr.Dataframe(
        value=pd.DataFrame(columns=SUMMARY_COLUMNS),
        label="Categories in the uploaded file",
        interactive=False,
        elem_id="data-summary",
    )
    gr.Markdown("### Datasets")
    datasets = gr.Dataframe(
        value=pd.DataFrame(columns=DATASET_COLUMNS),
        label="",
        interactive=False,
        wrap=True,
        elem_id="data-datasets",
    )
    with gr.Row():
        choice = gr.Dropdown(choices=[], label="Dataset", scale=3, elem_id="data-choice")
        activate = gr.Button("Activate", variant="primary", scale=1, elem_id="data-activate")
    activate_message = gr.HTML(elem_id="data-activate-message")

    file.change(
        handlers.preview,
        inputs=[file],
        outputs=[preview, date_column, category_column, amount_column, message],
        api_visibility="private",
    )
    upload.click(
        handlers.upload,
        inputs=[file, date_column, category_column, amount_column, date_format],
        outputs=[summary, notes, message, datasets, choice],
        api_name="upload_dataset",
    )
    activate.click(
        handlers.activate,
        inputs=[choice],
        outputs=[activate_message, datasets, choice],
        api_name="activate_dataset",
    )
    return DataTab(activate, datasets, choice)
