"""Publish a trained labelwise folder to the Hugging Face Hub.

    python push_to_hub.py <folder> --repo_id <namespace/name> [--private] [--revision BRANCH]
        [--commit_message MSG] [--no_handler] [--dry_run]

See `labelwise.publishing.push` for what is checked and uploaded. The token comes from HF_TOKEN or
`hf auth login` and is never printed.
"""

import sys

from labelwise.publishing.push import main

if __name__ == "__main__":
    sys.exit(main())
