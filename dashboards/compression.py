from workbench.dashboards.compression import CompressionTuner
from workbench.dashboards.widgets import serve_entry
serve_entry(CompressionTuner)
