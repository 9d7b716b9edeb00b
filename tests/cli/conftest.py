"""The `hearth` command's tests use the features' test inputs: documents corpus, image engine, tiny SAM, photo,
CLIP with known embeddings and its photos."""

from tests.core.clip.conftest import colour_clip_path, photos  # noqa: F401
from tests.core.documents.conftest import corpus  # noqa: F401
from tests.core.images.conftest import engine  # noqa: F401
from tests.core.segment.conftest import photo_path, tiny_sam_path  # noqa: F401
