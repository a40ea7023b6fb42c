from workbench.dashboards.duplicates import Duplicates
from workbench.dashboards.widgets import serve_entry
serve_entry(Duplicates)
