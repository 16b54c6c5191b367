import pytest

from ocrpipe.storage import S3Location, decode_event_key


def test_parse_and_format_round_trip_with_unicode_and_spaces():
    uri = "s3://bucket-1/uploads/abc/my scan é.png"
    loc = S3Location.parse(uri)
    assert (loc.bucket, loc.key) == ("bucket-1", "uploads/abc/my scan é.png")
    assert loc.uri == uri


@pytest.mark.parametrize("bad", ["", "s3://", "s3://bucket", "s3://bucket/", "https://x/y"])
def test_parse_refuses_non_s3_or_incomplete(bad):
    with pytest.raises(ValueError, match="s3"):
        S3Location.parse(bad)


def test_decode_event_key_undoes_s3_url_encoding():
    assert decode_event_key("uploads/x/my+scan+%C3%A9.png") == "uploads/x/my scan é.png"
