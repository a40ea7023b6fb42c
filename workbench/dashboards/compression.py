"""Compression tuner: try a codec and a quality (or a target metric) on a few photos, compare the original and the
result side by side with one zoom, read the sizes, the metric and the predicted savings for the whole library,
then save the settings as a named policy and apply it, a dry run first.

Every encode is ``lib.compression.try_rule`` (the same step ``Library.compress`` runs); the codecs, metrics, rule
and prediction come from ``lib.compression`` too; saving and applying go through ``Library.save_policy`` /
``Library.compress``. Applying writes new versions; originals are never replaced.
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models import ColumnDataSource, Range1d
from bokeh.plotting import figure
from panel.io.document import unlocked

from workbench.dashboards.widgets import Dashboard, guarded
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.compress.policy import ImageRule
    from workbench.compress.trial import Trial

CODEC_LABELS = {"jpeg": "JPEG", "webp": "WebP", "avif": "AVIF", "heic": "HEIC", "jxl": "JPEG XL"}
METRIC_LABELS = {"ssim": "SSIM", "ssimulacra2": "SSIMULACRA2"}
#: Per metric: (lowest, highest, step, default) of the target slider. SSIM 0.98 is the "balanced" policy's target;
#: SSIMULACRA2 80 is "high quality" on its scale (90 is visually lossless).
TARGET_RANGES = {"ssim": (0.90, 0.999, 0.001, 0.98), "ssimulacra2": (30.0, 95.0, 1.0, 80.0)}
DEFAULT_CODEC = "avif"
DEFAULT_QUALITY = 75
DEFAULT_SAMPLE_SIZE = 3
#: At most this many photos are tried at once (a random sample, or the first of an album by date), to keep a Try
#: within a minute or so even with slow codecs.
MAX_SAMPLE_SIZE = 30
#: Media sampled per kind by the dry run that precedes applying a policy.
DEFAULT_DRY_RUN_SAMPLE = 20
#: Long side of each comparison view, in screen pixels.
VIEW_SIZE_PX = 440

CHOSEN, RANDOM, ALBUM = "Chosen photos", "Random sample", "Album"
FIXED, TARGET = "Fixed quality", "Target metric"


def size_text(n: float | None) -> str:
    """Bytes as a short human size (1000-based, as file managers show them)."""
    if n is None:
        return ""
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f} {unit}"
    return f"{int(n)} B"


def value_text(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if metric == "ssim" else f"{value:.1f}"


def rgba_array(img) -> np.ndarray:
    """A PIL image as the (h, w) uint32 array ``image_rgba`` draws, bottom row first (Bokeh's y grows upwards)."""
    a = np.asarray(img.convert("RGBA"), dtype=np.uint8)
    return np.ascontiguousarray(a[::-1]).view(np.uint32).reshape(a.shape[:2])


class CompressionTuner(Dashboard):
    """Find compression settings by eye and by numbers, then save and apply them as a policy.

    The knobs are parameters: the sample (``sample_source``, ``chosen_ids``, ``sample_photos``, ``album_id``), the
    encoding (``codec``, ``quality_mode``, ``quality``, ``metric``, ``target_value``) and the policy
    (``policy_name``, ``policy_to_apply``, ``dry_run_media_per_kind``). **Try** sets ``trials`` and **Apply…** sets
    ``dry_run``; the comparison (``compared_trial``), the table, the prediction and the dry-run summary are
    ``@param.depends`` views of them. Try, Save, Apply… and Confirm apply stay buttons: they encode or write."""

    title = "Compression tuner"

    sample_source = param.Selector(objects=[CHOSEN, RANDOM, ALBUM], default=RANDOM,
                                   doc="Where the photos to try come from")
    chosen_ids = param.ListSelector(default=[], objects=[], doc="The photos to try, picked by file name")
    sample_photos = param.Integer(DEFAULT_SAMPLE_SIZE, bounds=(1, MAX_SAMPLE_SIZE),
                                  doc="How many photos a random sample holds")
    album_id = param.Selector(objects=[], allow_None=True,
                              doc=f"The album whose photos are tried (its first {MAX_SAMPLE_SIZE})")
    # the codecs and metrics are the library's (``lib.compression.codecs`` / ``.metrics``), set by ``build``
    codec = param.Selector(objects={}, default=DEFAULT_CODEC, doc="The codec the photos are encoded with")
    quality_mode = param.Selector(objects=[FIXED, TARGET], default=TARGET,
                                  doc="A fixed encoder quality, or the lowest quality whose result reaches a target")
    quality = param.Integer(DEFAULT_QUALITY, bounds=(1, 100), doc="The codec's own quality scale, 1 to 100")
    metric = param.Selector(objects={}, default="ssim",
                            doc="The metric measured on every result (and reached in target mode)")
    target_value = param.Number(TARGET_RANGES["ssim"][3], bounds=TARGET_RANGES["ssim"][:2],
                                step=TARGET_RANGES["ssim"][2], doc="The metric value to reach, on its own scale")
    policy_name = param.String("", doc="The name the settings are saved under (letters, digits, '-', '_')")
    policy_to_apply = param.Selector(objects=[], allow_None=True, doc="The policy Apply… runs, a dry run first")
    dry_run_media_per_kind = param.Integer(DEFAULT_DRY_RUN_SAMPLE, bounds=(1, None),
                                           doc="Media the dry run encodes per kind to predict the savings")
    trials = param.List([], precedence=-1, doc="The last Try: one Trial per photo (what the views show)")
    compared_trial = param.Selector(objects={}, allow_None=True, precedence=-1,
                                    doc="Which trial the two pictures compare (a position in trials)")
    dry_run = param.Dict(None, allow_None=True, precedence=-1,
                         doc="The last dry run (policy, summary, media to do): what Confirm apply confirms")

    def build(self) -> None:
        self.images = self.library.media(kind="image")
        if self.images.empty:
            self.messages.info(f"This library has no photos yet. Import some (`workbench --library "
                               f"{self.library.root} import FOLDER`), then reload this page.")
            return
        self._build_samples()
        self._build_encoding()
        self._build_policy()
        self._build_main()

    # -- sidebar -------------------------------------------------------------------------------------------
    def _build_samples(self) -> None:
        names = self.images["path"].map(lambda p: p.replace("\\", "/").rsplit("/", 1)[-1])
        dup = names.duplicated(keep=False)
        labels = [f"{n} ({i[:6]})" if d else n for n, i, d in zip(names, self.images["id"], dup)]
        self.name_of = dict(zip(self.images["id"], labels))
        self.albums = self._albums()
        self.param.sample_source.objects = [CHOSEN, RANDOM] + ([ALBUM] if self.albums else [])
        self.param.chosen_ids.objects = dict(zip(labels, self.images["id"]))
        self.param.album_id.objects = self.albums
        n = len(self.images)
        # a slider needs end > start, even for a library of one photo (sample() takes at most what there is)
        self.param.sample_photos.bounds = (1, max(2, min(MAX_SAMPLE_SIZE, n)))
        self.param.update(chosen_ids=list(self.images["id"][:1]), sample_photos=min(DEFAULT_SAMPLE_SIZE, n),
                          album_id=next(iter(self.albums.values()), None))
        self.source = pn.widgets.RadioButtonGroup.from_param(self.param.sample_source, name="Samples",
                                                             color="default")
        self.chosen = pn.widgets.MultiChoice.from_param(self.param.chosen_ids, name="Photos",
                                                        placeholder="type a file name",
                                                        visible=self.param.sample_source.rx() == CHOSEN)
        self.sample_size = pn.widgets.IntSlider.from_param(self.param.sample_photos, name="Photos in the sample",
                                                           disabled=n == 1,
                                                           visible=self.param.sample_source.rx() == RANDOM)
        self.album = pn.widgets.Select.from_param(self.param.album_id, name="Album",
                                                  visible=self.param.sample_source.rx() == ALBUM)
        self.sidebar += [pn.pane.Markdown("### Samples"), self.source, self.chosen, self.sample_size, self.album]

    def _albums(self) -> dict[str, str]:
        """Album label -> id, for albums that are not empty (none when the library has no albums)."""
        df = self.library.albums()
        df = df[df["items"] > 0]
        return {f"{r['name']} ({r['items']} items)": r["id"] for r in df.to_dict("records")}

    def _build_encoding(self) -> None:
        self.param.codec.objects = {CODEC_LABELS.get(c, c): c for c in self.library.compression.codecs}
        self.param.metric.objects = {METRIC_LABELS.get(m, m): m for m in self.library.compression.metrics}
        fixed = self.param.quality_mode.rx() == FIXED
        self.codec_select = pn.widgets.Select.from_param(self.param.codec, name="Codec")
        self.mode = pn.widgets.RadioButtonGroup.from_param(self.param.quality_mode, name="Mode")
        self.quality_slider = pn.widgets.EditableIntSlider.from_param(self.param.quality, name="Quality",
                                                                      css_classes=["wb-quality"], visible=fixed)
        self.metric_select = pn.widgets.Select.from_param(
            self.param.metric, name=fixed.rx.where("Metric (measured)", "Metric"))
        # the target's range follows the metric (``_target_follows_metric``), so its ends are not fixed
        self.target = pn.widgets.EditableFloatSlider.from_param(
            self.param.target_value, name="Target (lowest quality reaching it)", fixed_start=None, fixed_end=None,
            format="0.000", visible=fixed.rx.not_())
        self.try_button = pn.widgets.Button(label="Try", color="primary")
        self.try_button.on_click(self.messages.guard(self._try))
        self.sidebar += [pn.pane.Markdown("### Encoding"), self.codec_select, self.mode, self.quality_slider,
                         self.metric_select, self.target, self.try_button]

    @param.depends("metric", watch=True)
    @guarded
    def _target_follows_metric(self) -> None:
        """Each metric has its own scale: the target's range, step and value start over at the metric's own."""
        lo, hi, step, default = TARGET_RANGES.get(self.metric, (0.0, 100.0, 0.1, 50.0))
        with param.parameterized.batch_call_watchers(self):
            self.param.target_value.bounds = (lo, hi)
            self.param.target_value.step = step
            self.target_value = default
        if hasattr(self, "target"):
            self.target.format = "0.000" if step < 0.01 else "0"

    def _build_policy(self) -> None:
        self.param.policy_to_apply.objects = self._policy_names()
        self.policy_to_apply = self.param.policy_to_apply.objects[0]
        self.policy_name_input = pn.widgets.TextInput.from_param(self.param.policy_name, name="Policy name",
                                                                 placeholder="e.g. webp-80")
        self.save_button = pn.widgets.Button(label="Save as policy", color="success")
        self.save_button.on_click(self.messages.guard(self._save))
        self.apply_policy = pn.widgets.Select.from_param(self.param.policy_to_apply, name="Policy to apply")
        self.dry_sample = pn.widgets.IntInput.from_param(self.param.dry_run_media_per_kind,
                                                         name="Dry run: media sampled per kind")
        self.apply_button = pn.widgets.Button(label="Apply…", color="warning")
        self.apply_button.on_click(self.messages.guard(self._dry_run))
        self.sidebar += [pn.pane.Markdown("### Policy"), self.policy_name_input, self.save_button,
                         pn.pane.Markdown("Applying writes new versions beside the originals, which are kept. "
                                          "A dry run comes first; nothing is written until you confirm."),
                         self.apply_policy, self.dry_sample, self.apply_button]

    def _policy_names(self) -> list[str]:
        policies = self.library.policies()
        return list(policies["name"][policies["saved"]]) + list(policies["name"][~policies["saved"]])

    # -- main ----------------------------------------------------------------------------------------------
    @param.depends("dry_run")
    def confirmable(self) -> bool:
        """Whether a dry run is shown with media left to apply it to."""
        return bool(self.dry_run and self.dry_run["todo"])

    def _build_main(self) -> None:
        tried = self.param.trials.rx().rx.pipe(bool)   # a Try has shown something: the comparison shows
        self.hint = pn.pane.Markdown("Choose sample photos and a codec in the sidebar, then click **Try**. "
                                     "Zoom with the mouse wheel or pan in either picture: the other follows.",
                                     visible=tried.rx.not_())
        self.compare = pn.widgets.Select.from_param(self.param.compared_trial, name="Compare", visible=tried,
                                                    width=320, sizing_mode="fixed")
        self.x_range, self.y_range = Range1d(0, 1), Range1d(0, 1)
        self.sources = [ColumnDataSource({"image": [], "dw": [], "dh": []}) for _ in range(2)]
        self.figures = [self._figure(s) for s in self.sources]
        self.views = pn.Row(*[pn.pane.Bokeh(f, sizing_mode="fixed") for f in self.figures], visible=tried)
        self.table = pn.pane.HTML(self.table_html, sizing_mode="stretch_width")
        self.prediction = pn.pane.Markdown(self.prediction_text, sizing_mode="stretch_width")
        self.summary = pn.pane.Markdown(self.dry_run_summary, sizing_mode="stretch_width")
        self.confirm = pn.widgets.Button(label="Confirm apply", color="danger", visible=self.confirmable,
                                         width=200, sizing_mode="fixed")
        self.confirm.on_click(self.messages.guard(self._apply))
        self.cancel = pn.widgets.Button(label="Cancel", visible=self.confirmable, width=120, sizing_mode="fixed")
        self.cancel.on_click(self.messages.guard(lambda e: self._forget_dry_run()))
        self.zoom_note = pn.pane.Markdown("Zoom with the mouse wheel, pan by dragging: both pictures follow. "
                                          "Pick the photo to compare here.", visible=tried, margin=(22, 10))
        self.main += [self.hint, pn.Row(self.compare, self.zoom_note), self.views, self.table, self.prediction,
                      self.summary, pn.Row(self.confirm, self.cancel)]

    def _figure(self, source: ColumnDataSource):
        f = figure(x_range=self.x_range, y_range=self.y_range, tools="pan,wheel_zoom,box_zoom,reset",
                   active_scroll="wheel_zoom", toolbar_location="right", frame_width=VIEW_SIZE_PX,
                   frame_height=VIEW_SIZE_PX, width=VIEW_SIZE_PX + 50, height=VIEW_SIZE_PX + 40, title=" ")
        f.image_rgba(image="image", x=0, y=0, dw="dw", dh="dh", source=source)
        f.axis.visible = False
        f.grid.visible = False
        f.min_border = 4
        f.toolbar.logo = None
        return f

    # -- trying ----------------------------------------------------------------------------------------------
    def rule(self) -> ImageRule:
        """The lossy rule the parameters describe."""
        fixed = self.quality_mode == FIXED
        return self.library.compression.lossy_rule(self.codec, int(self.quality) if fixed else None, self.metric,
                                                   float(self.target_value))

    def sample(self) -> pd.DataFrame:
        """The photos to try, as rows of ``Library.media``."""
        if self.sample_source == CHOSEN:
            if not self.chosen_ids:
                raise ValueError("Pick at least one photo under Samples (or choose a random sample).")
            return self.images[self.images["id"].isin(self.chosen_ids)]
        if self.sample_source == ALBUM:
            if not self.album_id:
                raise ValueError("Choose an album under Samples.")
            df = self.library.album_media(self.album_id)
            df = df[df["kind"] == "image"]
            if df.empty:
                raise ValueError("That album has no photos (videos are not tried here).")
            return df.head(MAX_SAMPLE_SIZE)
        # the same seed as Library.compress's dry run, so both start from the same photos
        return self.images.sample(n=min(int(self.sample_photos), len(self.images)), random_state=0)

    def _trial_batch(self, sample: pd.DataFrame, rule: ImageRule) -> tuple[list[Trial], list[str]]:
        trials, failed = [], []
        for m in sample.to_dict("records"):
            name = self.name_of.get(m["id"], m["path"])
            try:
                trials.append(self.library.compression.try_rule(m["id"], rule, name=name))
            except (WorkbenchError, OSError, ValueError) as e:
                failed.append(f"{name}: {e}")
        return trials, failed

    async def _try(self, event: Any = None) -> None:
        rule, sample = self.rule(), self.sample()
        self.try_button.disabled = True
        try:
            label = f"Encoding {len(sample)} photo{'s' * (len(sample) != 1)} as {CODEC_LABELS[rule.codec]}"
            trials, failed = await self.busy.run(label, self._trial_batch, sample, rule)
        finally:
            self.try_button.disabled = False
        if failed:
            self.messages.error("Could not try " + "; ".join(failed))
        else:
            self.messages.clear()
        self.show_trials(trials)

    def show_trials(self, trials: list[Trial]) -> None:
        """Show a batch of trials: the comparison, the table and the prediction follow ``trials``."""
        self.trials = list(trials)

    @param.depends("trials", watch=True)
    @guarded
    def _list_trials(self) -> None:
        """The Compare list names the tried photos; the photo compared stays if it was tried again."""
        options = {t.name: i for i, t in enumerate(self.trials)}
        keep = self.compared_trial if self.compared_trial in options.values() else next(iter(options.values()),
                                                                                         None)
        self.param.compared_trial.objects = options
        if self.compared_trial == keep:
            self._render()
        else:
            self.compared_trial = keep

    @param.depends("compared_trial", watch=True)
    @guarded
    def _render(self) -> None:
        i = self.compared_trial
        if not self.trials or i is None or i >= len(self.trials):
            return
        t = self.trials[i]
        w, h = t.original.size
        scale = VIEW_SIZE_PX / max(w, h)
        # Bokeh models changed from an async callback must be changed with the document unlocked (Panel's rule).
        with unlocked():
            for f, src, img in zip(self.figures, self.sources, (t.original, t.result)):
                f.frame_width, f.frame_height = max(1, round(w * scale)), max(1, round(h * scale))
                src.data = {"image": [rgba_array(img)], "dw": [w], "dh": [h]}
            self.x_range.update(start=0, end=w, reset_start=0, reset_end=w)
            self.y_range.update(start=0, end=h, reset_start=0, reset_end=h)
            self.figures[0].title.text = f"Original · {size_text(t.bytes_before)}"
            self.figures[1].title.text = (f"{CODEC_LABELS.get(t.codec, t.codec)} q{t.quality} · "
                                          f"{size_text(t.bytes_after)} · {METRIC_LABELS.get(t.metric, t.metric)} "
                                          f"{value_text(t.metric, t.value)}")

    @param.depends("trials")
    def table_html(self) -> str:
        """Per tried photo: the sizes, the saving, the quality used, the metric and whether applying writes it."""
        return self._table_html(self.trials) if self.trials else ""

    @param.depends("trials")
    def prediction_text(self) -> str:
        """The sample's savings extrapolated to the whole library."""
        return self._prediction_text(self.trials)

    def _table_html(self, trials: list[Trial]) -> str:
        head = ["photo", "bytes before", "bytes after", "saved", "codec", "quality", "metric", "value",
                "encode s", "would be written"]
        rows = []
        for t in trials:
            written = "yes" if t.kept else ("no: target missed" if not t.met else "no: not smaller")
            cells = [t.name, f"{t.bytes_before:,}", f"{t.bytes_after:,}", f"{t.saving:.1%}",
                     CODEC_LABELS.get(t.codec, t.codec), str(t.quality), METRIC_LABELS.get(t.metric, t.metric),
                     value_text(t.metric, t.value), f"{t.encode_s:.2f}", written]
            rows.append("<tr>" + "".join(f'<td style="padding:2px 12px 2px 0">{html.escape(c)}</td>'
                                         for c in cells) + "</tr>")
        return ('<table class="wb-trials" style="border-collapse:collapse;font:13px system-ui,sans-serif">'
                "<thead><tr>" + "".join(f'<th style="text-align:left;padding:2px 12px 2px 0">{h}</th>'
                                        for h in head) + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")

    def _prediction_text(self, trials: list[Trial]) -> str:
        if not trials:
            return ""
        totals = self.library.media().groupby("kind")["size_bytes"].sum().to_dict()
        pred = self.library.compression.predict(trials, totals)
        parts = []
        img = pred["by_kind"].get("image")
        if img:
            parts.append(f"photos {size_text(img['library_bytes'])} → about "
                         f"{size_text(img['predicted_bytes_after'])} ({img['predicted_saving']:.0%} saved)")
        vid = pred["by_kind"].get("video")
        if vid:
            parts.append(f"videos {size_text(vid['library_bytes'])} left as they are")
        total = sum(totals.values())
        return (f"**Predicted for the whole library** (from {len(trials)} sampled photo"
                f"{'s' * (len(trials) != 1)}): {'; '.join(parts)}. In all about "
                f"**{size_text(pred['predicted_bytes_saved'])} saved** of {size_text(total)}.")

    # -- saving and applying -------------------------------------------------------------------------------
    def _save(self, event: Any = None) -> None:
        name = self.policy_name.strip()
        if not name:
            raise ValueError("Type a name for the policy first (letters, digits, '-', '_').")
        path = self.library.save_policy(self.library.compression.policy(name, self.rule()))
        self.param.policy_to_apply.objects = self._policy_names()
        self.policy_to_apply = name
        self.messages.success(f"Saved policy **{name}** ({path.name} in the library's policies folder). Apply it "
                              f"here, or run `workbench compress --policy {name}`. It leaves videos as they are.")

    @param.depends("policy_to_apply", watch=True)
    def _forget_dry_run(self) -> None:
        """Another policy chosen (or Cancel): the dry run shown no longer applies."""
        self.dry_run = None

    @param.depends("dry_run")
    def dry_run_summary(self) -> str:
        """What the last dry run found, shown before anything is written."""
        return self.dry_run["text"] if self.dry_run else ""

    async def _dry_run(self, event: Any = None) -> None:
        name = self.policy_to_apply
        self._forget_dry_run()
        self.apply_button.disabled = True
        try:
            df = await self.busy.run(f"Dry run of policy {name}", self.library.compress, name, dry_run=True,
                                     sample=int(self.dry_run_media_per_kind), progress=False)
        finally:
            self.apply_button.disabled = False
        done = set(self.library.versions(name)["media_id"])
        todo = int((~self.library.media()["id"].isin(done)).sum())
        self.confirm.disabled = False
        self.dry_run = {"policy": name, "text": self.dry_run_text(name, df, todo), "todo": todo}
        self.messages.info(f"Dry run of {name} done, nothing written: read the summary at the bottom of the page"
                           + (", then Confirm apply or Cancel." if todo else "."))

    @staticmethod
    def dry_run_text(name: str, df: pd.DataFrame, todo: int) -> str:
        """The dry-run summary shown before anything is written."""
        pred = df.attrs["prediction"]
        lines = [f"#### Dry run of policy {name}: nothing written yet",
                 f"Encoded {len(df)} sampled media in memory. **{todo} media** will get a version "
                 f"(under `derived/versions/{name}/`); originals are kept."]
        for kind, v in pred["by_kind"].items():
            lines.append(f"- {kind}s: {size_text(v['library_bytes'])} → about "
                         f"{size_text(v['predicted_bytes_after'])} ({v['predicted_saving']:.0%} saved, "
                         f"{v['sampled']} sampled)")
        lines.append(f"- predicted saving in all: **{size_text(pred['predicted_bytes_saved'])}**")
        q = pred.get("quality_distribution")
        if q:
            label = METRIC_LABELS.get(q["metric"], q["metric"])
            lines.append(f"- quality ({label}): lowest {value_text(q['metric'], q['min'])}, 10th percentile "
                         f"{value_text(q['metric'], q['p10'])}, median {value_text(q['metric'], q['median'])}")
        qualities = pd.to_numeric(df["quality"], errors="coerce").dropna()
        if len(qualities):
            lines.append(f"- encoder quality chosen: {int(qualities.min())} to {int(qualities.max())} "
                         f"(median {int(qualities.median())})")
        if todo == 0:
            lines.append(f"\nEvery media already has a version by **{name}**: there is nothing to apply.")
        else:
            lines.append("\nClick **Confirm apply** to write the versions, or Cancel.")
        return "\n".join(lines)

    async def _apply(self, event: Any = None) -> None:
        name = self.dry_run["policy"] if self.dry_run else None
        if name is None or name != self.policy_to_apply:
            raise ValueError("Run the dry run (Apply…) for this policy first.")
        self.confirm.disabled = self.apply_button.disabled = True
        try:
            df = await self.busy.run(f"Applying policy {name}", self.library.compress, name, progress=False)
        finally:
            self.apply_button.disabled = False
        self._forget_dry_run()
        versions = self.library.versions(name)
        new = versions[versions["media_id"].isin(df["id"]) & versions["path"].notna()]
        self.messages.success(
            f"Applied policy **{name}**: {len(df)} media done, {len(new)} new versions written "
            f"({size_text(new['bytes_before'].sum())} → {size_text(new['bytes_after'].sum())}); the others had "
            f"no smaller version that met the target. Originals are kept.")
