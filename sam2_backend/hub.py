"""Official checkpoints from the Hugging Face Hub, through ``huggingface_hub`` and its cache.

``HF_HOME``, ``HF_HUB_CACHE``, ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` work as they do for
every other Hugging Face library. Every way a download can fail becomes one
:class:`CheckpointDownloadError` that says why and how to use a local file instead,
across the ``huggingface_hub`` versions that moved or split its exceptions.
"""

from __future__ import annotations

from pathlib import Path

from .configs import ModelConfig

__all__ = ["CheckpointDownloadError", "download"]


class CheckpointDownloadError(RuntimeError):
    """Official weights could neither be downloaded nor found in the local cache."""


def download(config: ModelConfig, *, revision: str | None, cache_dir) -> Path:
    """Path of ``config.filename`` from ``config.hub_repo``, downloaded or from the HF cache."""
    try:
        import huggingface_hub
    except ImportError as e:
        raise ImportError(
            f"Downloading {config.name!r} needs the huggingface_hub package: `pip install huggingface_hub`. "
            f"Or download {config.filename} from the Hugging Face repo {config.hub_repo} yourself "
            f"and pass its path: load_model('/path/to/{config.filename}')."
        ) from e

    def fail(reason: str) -> CheckpointDownloadError:
        where = f" at revision {revision!r}" if revision is not None else ""
        return CheckpointDownloadError(
            f"Could not load the SAM 2 weights {config.name!r}: {config.filename} from the Hugging Face repo "
            f"{config.hub_repo}{where} could not be downloaded and is not in the local cache "
            f"({_cache_location(cache_dir)}). Reason: {reason} "
            f"To use a local file instead, download {config.filename} from the Hugging Face repo "
            f"{config.hub_repo} and pass its path: load_model('/path/to/{config.filename}')."
        )

    try:
        from huggingface_hub import errors as hf_errors
    except ImportError:  # huggingface_hub < 0.25 keeps its exceptions in .utils
        from huggingface_hub import utils as hf_errors
    local_missing = hf_errors.LocalEntryNotFoundError
    # huggingface_hub >= 1.0 splits remote from local "entry not found"; older versions have one class.
    remote_missing = getattr(hf_errors, "RemoteEntryNotFoundError", hf_errors.EntryNotFoundError)
    offline = _hub_offline()
    try:
        path = huggingface_hub.hf_hub_download(
            repo_id=config.hub_repo,
            filename=config.filename,
            revision=revision,
            cache_dir=None if cache_dir is None else str(cache_dir),
            library_name="sam2_backend",
        )
    except local_missing as e:
        reason = (
            "offline mode is on (HF_HUB_OFFLINE is set) and the file is not cached; "
            "unset HF_HUB_OFFLINE to download it."
            if offline
            else f"the Hub could not be reached ({_root_cause(e)}) and the file is not cached. "
            "Check your network connection, proxy settings and HF_ENDPOINT."
        )
        raise fail(reason) from e
    except hf_errors.RevisionNotFoundError as e:
        raise fail(f"the revision {revision!r} does not exist in {config.hub_repo}.") from e
    except remote_missing as e:
        raise fail(f"the repo has no file {config.filename} at this revision.") from e
    except hf_errors.RepositoryNotFoundError as e:
        raise fail(
            f"the repo {config.hub_repo} was not found or is not accessible (check HF_ENDPOINT and your token)."
        ) from e
    except (hf_errors.HfHubHTTPError, OSError) as e:
        # Other HTTP errors (401, 403, ...), an incomplete download, a full disk.
        raise fail(f"{type(e).__name__}: {e}") from e
    except _transport_errors() as e:
        raise fail(f"the connection failed during the download ({type(e).__name__}: {e}).") from e
    return Path(path)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Network exception bases of the HTTP client huggingface_hub uses (httpx2, httpx or requests)."""
    found: list[type[BaseException]] = []
    for module, attr in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            found.append(getattr(__import__(module), attr))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _hub_offline() -> bool:
    from huggingface_hub import constants

    is_offline = getattr(constants, "is_offline_mode", None)
    return bool(is_offline() if callable(is_offline) else getattr(constants, "HF_HUB_OFFLINE", False))


def _cache_location(cache_dir) -> str:
    if cache_dir is not None:
        return f"cache_dir={str(cache_dir)!r}"
    from huggingface_hub import constants

    return f"Hugging Face cache {constants.HF_HUB_CACHE!r}"


def _root_cause(e: BaseException) -> str:
    while e.__cause__ is not None:
        e = e.__cause__
    return f"{type(e).__name__}: {e}"
