import pytest

from shared.core.settings import Settings, SettingsError


def test_missing_storage_fails_fast_naming_the_setting():
    with pytest.raises(SettingsError, match="AzureWebJobsStorage"):
        Settings.from_env({})


def test_identity_based_storage_derives_service_urls():
    s = Settings.from_env({"AzureWebJobsStorage__accountName": "acct"})
    assert s.storage.table_uri == "https://acct.table.core.windows.net"
    assert s.storage.queue_uri == "https://acct.queue.core.windows.net"


def test_bad_values_are_reported():
    with pytest.raises(SettingsError, match="port"):
        Settings.from_env({"AzureWebJobsStorage": "x", "SMTP_PORT": "99999"})
    with pytest.raises(SettingsError, match="default category"):
        Settings.from_env({"AzureWebJobsStorage": "x", "HELPDESK_CATEGORIES": "a,b",
                           "HELPDESK_DEFAULT_CATEGORY": "c"})


def test_the_pipes_sender_check_is_dkim_unless_set_and_results_need_a_server():
    assert Settings.from_env({"AzureWebJobsStorage": "x"}).mail.sender_check == "dkim"
    with pytest.raises(SettingsError, match="HELPDESK_MAIL_AUTHSERV_ID"):
        Settings.from_env({"AzureWebJobsStorage": "x",
                           "HELPDESK_MAIL_SENDER_CHECK": "authentication-results"})
    mail = Settings.from_env({"AzureWebJobsStorage": "x",
                              "HELPDESK_MAIL_SENDER_CHECK": "authentication-results",
                              "HELPDESK_MAIL_AUTHSERV_ID": "mx.example.org",
                              "HELPDESK_DNS_SERVER": "10.0.0.53:53"}).mail
    assert (mail.sender_check, mail.authserv_id, mail.dns_server) == (
        "authentication-results", "mx.example.org", "10.0.0.53:53")
