"""Violation rules behind one interface (`Rule.evaluate(observation) -> list[Candidate]`).

`build_rules(config)` turns a camera's `rules` section into rule objects. A new rule adds its config section
to `vision.scene.RulesConfig` and one entry to `_FACTORIES` below.
"""

from __future__ import annotations

from collections.abc import Callable

from vision.rules.base import Candidate, Observation, Rule
from vision.scene import CameraConfig, Scene


def _jaywalking(config: CameraConfig, scene: Scene) -> Rule:
    from vision.rules.jaywalking import JaywalkingRule

    return JaywalkingRule(config.rules.jaywalking, scene)


# section name in RulesConfig → factory(camera config, scene) -> Rule
def _littering(config: CameraConfig, scene: Scene) -> Rule:
    from vision.rules.littering import LitteringRule

    littering = config.rules.littering
    verifier = None
    if littering.verify_model and scene.has("litter_watch"):
        from vision.detectors import load_detector

        verifier = load_detector(
            littering.verify_model,
            conf=littering.verify_conf,
            providers=config.detector.providers or None,
            threads=config.detector.threads,
        )
    return LitteringRule(littering, scene, verifier)


def _smoking(config: CameraConfig, scene: Scene) -> Rule:
    from vision.rules.smoking import SmokingRule

    return SmokingRule(config.rules.smoking, scene)


_FACTORIES: dict[str, Callable[[CameraConfig, Scene], Rule]] = {
    "jaywalking": _jaywalking,
    "littering": _littering,
    "smoking": _smoking,
}


def build_rules(config: CameraConfig, scene: Scene | None = None) -> list[Rule]:
    """The enabled rules of one camera, each with its own state."""
    scene = scene or Scene(config.zones)
    rules: list[Rule] = []
    for section, factory in _FACTORIES.items():
        if getattr(config.rules, section).enabled:
            rules.append(factory(config, scene))
    return rules


__all__ = ["Candidate", "Observation", "Rule", "build_rules"]
