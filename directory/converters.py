"""A URL segment that can only be a ContactPoint ID: anything else is a 404 before any view."""

from django.urls import register_converter


class ContactPointIdConverter:
    regex = "[0-9]{12}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ContactPointIdConverter, "cpid")
