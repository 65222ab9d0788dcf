"""The multi-account delivery pipeline, deployed in the tooling account."""

from components.pipeline.delivery import DeliveryPipeline, PipelineSettings

__all__ = ["DeliveryPipeline", "PipelineSettings"]
