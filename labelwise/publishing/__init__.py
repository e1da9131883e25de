"""Model cards and Hub upload for trained labelwise folders (behind `push_to_hub.py`).

- `build_model_card(folder)` / `write_model_card(folder)`: the card from `training_summary.json`.
- `check_folder(folder)` (folder_check.py): what would be uploaded, or a `FolderError` naming what is wrong.
- `push_folder(folder, repo_id, ...)`: one commit to the Hub; returns the commit URL.
- `handler.py`: the Inference Endpoints handler copied into pushed repos.
"""

from .model_card import build_model_card, write_model_card
from .folder_check import FolderError, UploadPlan, check_folder
from .push import PushError, main, push_folder

__all__ = [
    "FolderError",
    "PushError",
    "UploadPlan",
    "build_model_card",
    "check_folder",
    "main",
    "push_folder",
    "write_model_card",
]
