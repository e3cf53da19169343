"""Sample quality of generative models: FID, KID, IS, precision/recall, density/coverage, memorisation, human test."""

from explorer.core.sample_quality.extractors import BUNDLED, Extractor, bundled_classifier_path, load_extractor
from explorer.core.sample_quality.human import HumanTest
from explorer.core.sample_quality.jobs import (
    SampleQualityReference,
    SampleQualityResult,
    SampleQualitySettings,
    floor_record,
    generate_samples,
    prepare_reference,
    sample_quality,
)
from explorer.core.sample_quality.memorisation import MemorisationReport, memorisation_report
from explorer.core.sample_quality.metrics import (
    SampleQualityError,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    precision_recall_density_coverage,
    wilson_interval,
)

__all__ = [
    "BUNDLED", "Extractor", "HumanTest", "MemorisationReport", "SampleQualityError", "SampleQualityReference",
    "SampleQualityResult", "SampleQualitySettings", "bundled_classifier_path", "floor_record", "frechet_distance",
    "generate_samples", "inception_score", "kernel_inception_distance", "load_extractor", "memorisation_report",
    "precision_recall_density_coverage", "prepare_reference", "sample_quality", "wilson_interval",
]
