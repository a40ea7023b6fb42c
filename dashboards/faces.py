from workbench.dashboards.faces import Faces
from workbench.dashboards.widgets import serve_entry
serve_entry(Faces)
