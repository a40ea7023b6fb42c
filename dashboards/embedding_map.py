from workbench.dashboards.embedding_map import EmbeddingMap
from workbench.dashboards.widgets import serve_entry
serve_entry(EmbeddingMap)
