"""GOV.UK's pattern for a security code: a text input with autocomplete="one-time-code",
spellcheck off and, where the code is digits only, inputmode="numeric", so a phone offers its
number pad rather than a keyboard."""

import pytest

from tests.html import input_tag

pytestmark = pytest.mark.django_db


def test_the_set_up_pages_six_digit_code_asks_for_numbers(client):
    from accounts.roles import Role
    from tests.personas import make_user, sign_in

    newcomer = make_user("newcomer", Role.PRACTITIONER)
    sign_in(client, newcomer, verified=False)
    code = input_tag(client.get("/accounts/two-factor/set-up/").content.decode(), "id_otp_token")
    assert 'autocomplete="one-time-code"' in code and 'spellcheck="false"' in code
    assert 'inputmode="numeric"' in code


def test_the_sign_in_code_takes_letters_too_as_a_backup_code_has_them(client):
    from tests.personas import authenticator, priya, sign_in

    practitioner = priya()
    authenticator(practitioner)
    sign_in(client, practitioner, verified=False)
    code = input_tag(client.get("/accounts/two-factor/").content.decode(), "id_otp_token")
    assert 'autocomplete="one-time-code"' in code and "inputmode" not in code
