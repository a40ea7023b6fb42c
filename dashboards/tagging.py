from workbench.dashboards.tagging import Tagging
from workbench.dashboards.widgets import serve_entry
serve_entry(Tagging)
