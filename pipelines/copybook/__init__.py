"""COBOL copybooks: parse the source text into record layouts with byte offsets."""

from pipelines.copybook.model import Field, Picture, RecordLayout, Usage
from pipelines.copybook.parser import CopybookError, parse_copybook

__all__ = ["CopybookError", "Field", "Picture", "RecordLayout", "Usage", "parse_copybook"]
