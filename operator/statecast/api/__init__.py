"""Custom resource models (pydantic) and CRD generation: the single source of truth."""
