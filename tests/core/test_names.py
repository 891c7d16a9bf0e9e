"""Deployment names: safe ones pass, dangerous ones are refused with a reason."""

from __future__ import annotations

import pytest

from stackmedic.deployments.names import InvalidName, project_name_for, validate_name


@pytest.mark.parametrize("name", ["shop", "my-site.com", "a_b", "9lives"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [("", "empty"), ("../x", "'..'"), ("a/b", "'/'"), ("x" * 65, "longer than 64"),
     (".hidden", "start with a letter"), ("sp ace", "only letters")],
)
def test_invalid_names(name: str, reason: str) -> None:
    with pytest.raises(InvalidName, match=reason):
        validate_name(name)


def test_project_name_follows_compose_normalisation() -> None:
    assert project_name_for("My.Site") == "mysite"
    assert project_name_for("shop") == "shop"
