"""The files and answers that cross a boundary between parts, each with one typed owner.

- `manifest.VersionManifest` — `norm_stats.json` beside `model.pt` and in the `.mar`; written by
  training, read by the handler*, the archiver and training's comparisons.
- `metrics.VersionMetrics` — `metrics.json` beside `model.pt` and in the `.mar`; written by training,
  read by the handler*, the deploy policy and jobs.
- `served.ServedVersionInfo` — TorchServe's customized describe answer; written by the handler*,
  read by the gateway and the deploy step.
- `job_spec.JobSpec` — `salescast train --job-spec`: one training job (categories, dataset, deploy
  policy, settings, output files); written by the gateway's job runner, read by the training process.
- `job_result.CategoryResult` — `salescast train --result-json`; read by the gateway's job runner.
- `job_progress.JobProgress` — `salescast train --progress-json`; read by the job runner while a
  job runs.
- `category_index` — `categories.json` in the model store; written and read by the archiver.
- `dataset.DatasetRecord` — `<paths.datasets>/records/<id>.json`, one uploaded sales file and its
  column mapping; written by the gateway's upload, read by its history, listing and jobs.
- `active_dataset.ActiveDataset` — `<paths.datasets>/active.json`, the dataset history, forecasts
  and new training jobs read; written by `PUT /api/datasets/active`.
- `bulk_forecast.BulkForecastJob` / `BulkForecastAnswer` — stdin and stdout of
  `python -m serving.bulk_forecast`; written and read by the gateway's bulk forecasts and that process.

*The handler travels alone inside the `.mar` (torch and the standard library only), so it keeps its
own small reader and writer; `tests/contracts/` keeps them in step with these models.
"""
