import pytest

from ocrpipe.webhooks import MAX_WEBHOOK_URL_CHARS, WebhookUrlError, check_webhook_url


@pytest.mark.parametrize(
    ("url", "local_mode", "reason"),
    [
        ("https://hooks.example.com/" + "a" * MAX_WEBHOOK_URL_CHARS, False, "longer than"),
        ("http://hooks.example.com/x", True, "must use https"),
        ("https://192.168.1.10/x", False, "public internet host"),
        ("https://[fd00::1]/x", False, "public internet host"),
        ("https://hooks.example.com/a\tb", False, "spaces or control"),
    ],
)
def test_refusals_say_why_without_repeating_the_url(url, local_mode, reason):
    with pytest.raises(WebhookUrlError, match=reason) as info:
        check_webhook_url(url, local_mode=local_mode)
    assert url not in str(info.value)


def test_unicode_host_names_and_ports_are_fine():
    url = "https://hööks.example.com:8443/ocr?x=1"
    assert check_webhook_url(url, local_mode=False) == url
