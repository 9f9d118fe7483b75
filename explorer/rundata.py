"""Everything the explorer reads from a run folder, loaded without Qt.

``RunData.open(run_dir)`` loads the model (``Engine``), the encoded evaluation images (``latents.npz``) and,
when a matching cache exists, the 2-D maps (``maps.npz``). Point images come from ``latents.npz`` when the run
stored them, else from the data set named in ``config.json``, loaded once on first use, else from the run's
thumbnails (``core.point_images``: a run works without its data folder).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.checkpoint import CheckpointError
from core.errors import CCVAEError
from core.inference import DEFAULT_RUN, Engine
from core.latents import MAPS_FILE, Latents, load_latents
from core.point_images import PointImages
from core.projection import LatentMaps, load_maps, maps_cache_key


class RunOpenError(CCVAEError):
    """A folder that cannot be explored; the message is one line saying why."""


@dataclass
class RunData:
    run_dir: Path
    engine: Engine
    latents: Latents
    maps: LatentMaps | None          # None until computed (no cache, or a cache for other latents)
    seed: int = 0                    # the seed the maps are keyed with
    maps_file: Path | None = None    # where new maps are saved, when not beside the run (a study's cells)
    swap_choice: object = None       # core.swap_choice.SwapChoice when known before opening (the live view's)
    images: PointImages = field(init=False)

    def __post_init__(self):
        cfg = self.engine.config
        self.images = PointImages(self.latents, cfg.data_as_trained(), cfg.extra.get("counts"), cfg.model.image_shape)

    @property
    def maps_path(self) -> Path:
        return self.maps_file if self.maps_file is not None else self.run_dir / MAPS_FILE

    @property
    def label_spec(self):
        return self.engine.label_spec

    @classmethod
    def open(cls, run_dir: str | Path | None = None) -> "RunData":
        """Load a run (default: the embedded one); raises RunOpenError with a one-line message."""
        run_dir = Path(run_dir) if run_dir is not None else DEFAULT_RUN
        if run_dir == DEFAULT_RUN and not run_dir.is_dir():
            raise RunOpenError(f"the embedded default run is missing ({run_dir}); pass a run folder made by train_cli.py")
        try:
            engine = Engine.from_run(run_dir)
            latents = load_latents(run_dir)
        except (CheckpointError, FileNotFoundError, ValueError) as e:
            raise RunOpenError(str(e)) from None
        except Exception as e:  # e.g. torch.load failing in a way core does not translate yet
            raise RunOpenError(f"{run_dir}: cannot load this run ({type(e).__name__}: {str(e)[:120]})") from None
        if len(latents) == 0:
            raise RunOpenError(f"{run_dir}: latents.npz holds no points")
        if latents.z_c.shape[1] != engine.zc_dim or latents.z_style.shape[1] != engine.style_dim:
            raise RunOpenError(f"{run_dir}: latents.npz does not match the model (z_c {latents.z_c.shape[1]} vs "
                               f"{engine.zc_dim}, style {latents.z_style.shape[1]} vs {engine.style_dim})")
        seed = int(engine.config.train.seed)
        key = maps_cache_key(latents.z_c, latents.z_style, seed)
        maps = load_maps(run_dir / MAPS_FILE, expected_key=key)
        if maps is not None and len(maps.zc) != len(latents):
            maps = None
        return cls(run_dir=run_dir, engine=engine, latents=latents, maps=maps, seed=seed)
