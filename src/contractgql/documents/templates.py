"""DOCX document templates with Jinja placeholders, rendered with docxtpl.

A template is a Word file with placeholders such as `{{ client.name }}` and
`{{ contract.end_date }}`. PLACEHOLDERS lists every name a template may use.
Templates run in Jinja's sandbox, so a placeholder can read the values below
and nothing else of the server.

The Contract fields that the policy protects (amount, vat_rate, indexation,
renewal_price_agreement, mrr, arr, total_contract_value in the shipped policy)
render only for callers who may read them. For other callers the render is
rejected with the names of the protected placeholders. They are found twice.
Before rendering, the template's source is searched for them. While rendering,
the values record each read of a protected field, which also catches aliases
such as `{% set c = contract %}{{ c.amount }}`.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from docx.opc.exceptions import PackageNotFoundError
from docxtpl import DocxTemplate
from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment
from lxml.etree import XMLSyntaxError

from contractgql.domain.money import (
    PaymentFrequency,
    from_minor_units,
    monthly_recurring,
    present,
    total_contract_value,
)
from contractgql.domain.status import contract_status
from contractgql.models import Client, ContactPerson, Contract, Organization, User
from contractgql.security.fields import graphql_name
from contractgql.security.viewer import Viewer

# Every placeholder a template may use: the object and its attributes. Dates are
# ISO 8601 (2027-06-30), amounts decimal strings in the contract's currency
# (12500.00), percentages decimal strings (21.00) and missing values empty.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "client": ("name", "coc_number", "vat_number", "segment"),
    "contact": ("name", "email", "phone", "job_title"),
    "contract": (
        "name",
        "number",
        "description",
        "status",
        "start_date",
        "end_date",
        "signed_date",
        "notice_deadline",
        "notice_period",
        "auto_renewal",
        "payment_frequency",
        "currency",
        "amount",
        "vat_rate",
        "indexation",
        "renewal_price_agreement",
        "mrr",
        "arr",
        "total_contract_value",
    ),
    "owner": ("name", "email"),
    "organization": ("name",),
    "today": (),
}


class TemplateInvalid(Exception):
    """The file is not a usable template; the message names the problem."""


class ProtectedFieldRead(Exception):
    """A template read Contract fields that the caller may not read."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


def sandbox() -> SandboxedEnvironment:
    # Autoescaping turns & and < in values into XML entities, so a client named
    # "Smith & Sons" does not break the document's XML.
    return SandboxedEnvironment(autoescape=True)


def template_sources(template: DocxTemplate) -> Iterator[str]:
    """Yield the Jinja source of the body, headers and footers, as docxtpl reads it."""
    template.init_docx()
    yield template.patch_xml(template.get_xml())
    for uri in (template.HEADER_URI, template.FOOTER_URI):
        for _, part in template.get_headers_footers(uri):
            yield template.patch_xml(template.get_part_xml(part))


def inspect_template(content: bytes) -> list[str]:
    """Return the placeholders that a DOCX template uses, such as contract.end_date.

    Raises TemplateInvalid when the file is not a Word document, its Jinja
    syntax is broken, or it uses a name that PLACEHOLDERS does not list.
    """
    try:
        template = DocxTemplate(io.BytesIO(content))
        sources = list(template_sources(template))
    except (
        PackageNotFoundError,
        zipfile.BadZipFile,
        KeyError,
        XMLSyntaxError,
    ) as error:
        raise TemplateInvalid(
            f"The file is not a readable Word document (DOCX): {error}."
        ) from None
    environment = sandbox()
    used: set[str] = set()
    for source in sources:
        try:
            parsed = environment.parse(source)
        except TemplateSyntaxError as error:
            raise TemplateInvalid(
                f"The template has a Jinja syntax error: {error.message}. Check the "
                "placeholders' braces, such as {{ client.name }}, and that every "
                "{% if %} or {% for %} has its {% endif %} or {% endfor %}."
            ) from None
        _check_constructs(environment, parsed)
        used |= _placeholders(parsed)
    unknown = sorted(name for name in used if not _is_known(name))
    if unknown:
        raise TemplateInvalid(
            f"The template uses unknown placeholders: {', '.join(unknown)}. Use "
            f"the names that the documentation lists, such as {{{{ client.name }}}} "
            "or {{ contract.end_date }}."
        )
    return sorted(used)


# Tags that read other templates, which a template in a Word document has none of.
_LOADING_TAGS = {
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Import: "import",
    nodes.FromImport: "from … import",
}


def _check_constructs(
    environment: SandboxedEnvironment, parsed: nodes.Template
) -> None:
    """Reject tags, filters and tests that would only fail when the template renders."""
    for node_type, tag in _LOADING_TAGS.items():
        if next(parsed.find_all(node_type), None) is not None:
            raise TemplateInvalid(
                f"The template uses {{% {tag} %}}, which reads another template: put "
                "that text into this template instead."
            )
    for node in parsed.find_all(nodes.Filter):
        assert isinstance(node, nodes.Filter)
        if node.name not in environment.filters:
            raise TemplateInvalid(
                f"The template uses the unknown filter '{node.name}': use one of "
                "Jinja's built-in filters, such as upper or default."
            )
    for test in parsed.find_all(nodes.Test):
        assert isinstance(test, nodes.Test)
        if test.name not in environment.tests:
            raise TemplateInvalid(
                f"The template uses the unknown test '{test.name}': use one of "
                "Jinja's built-in tests, such as defined or none."
            )


def _placeholders(parsed: nodes.Template) -> set[str]:
    """Return object.attribute for each attribute read from a context object,
    and the bare name for other uses of an undeclared name."""
    from jinja2 import meta

    roots = meta.find_undeclared_variables(parsed)
    found: set[str] = set()
    attributed: set[str] = set()
    for node in parsed.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        target = node.node
        if not isinstance(target, nodes.Name) or target.name not in roots:
            continue
        if isinstance(node, nodes.Getattr):
            found.add(f"{target.name}.{node.attr}")
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            found.add(f"{target.name}.{node.arg.value}")
        else:
            found.add(target.name)
        attributed.add(target.name)
    for name in roots:
        if name not in attributed or name == "today":
            found.add(name)
    return found


def _is_known(name: str) -> bool:
    root, _, attribute = name.partition(".")
    if root not in PLACEHOLDERS:
        return False
    return not attribute or attribute in PLACEHOLDERS[root]


def protected_placeholders(viewer: Viewer, placeholders: list[str]) -> list[str]:
    """Return the contract placeholders among `placeholders` the viewer may not read.

    A bare `contract`, such as in `{% set c = contract %}`, counts as every
    protected field, because the template can then read any of them.
    """
    denied = denied_contract_fields(viewer)
    found = set()
    for name in placeholders:
        root, _, attribute = name.partition(".")
        if root != "contract":
            continue
        if not attribute:
            found |= {f"contract.{field}" for field in denied}
        elif attribute in denied:
            found.add(name)
    return sorted(found)


def denied_contract_fields(viewer: Viewer) -> set[str]:
    """Return the contract placeholder attributes that the viewer may not read."""
    return {
        attribute
        for attribute in PLACEHOLDERS["contract"]
        if not viewer.fields.may_read("Contract", graphql_name(attribute))
    }


class GuardedValues(Mapping[str, Any]):
    """The values of one placeholder object, recording reads of denied keys.

    A denied key reads as an empty string, and the render is rejected afterwards,
    so a template cannot show or test a value that the caller may not read.
    """

    def __init__(
        self, prefix: str, values: dict[str, Any], denied: set[str], reads: set[str]
    ) -> None:
        self._prefix = prefix
        self._values = values
        self._denied = denied
        self._reads = reads

    def __getitem__(self, key: str) -> Any:
        if key in self._denied:
            self._reads.add(f"{self._prefix}.{key}")
            return ""
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


async def template_context(
    viewer: Viewer, contract: Contract, reads: set[str]
) -> dict[str, Any]:
    """Return the values of the placeholders for one contract.

    The contact is the client's first contact person, by creation, or empty
    values when the client has none.
    """
    client = await Client.get(id=contract.client_id)
    contact = (
        await ContactPerson.filter(client_id=client.id, archived_at__isnull=True)
        .order_by("id")
        .first()
    )
    owner = None
    if contract.owner_id is not None:
        owner = await User.get_or_none(id=contract.owner_id)
    organization = await Organization.get(id=contract.organization_id)
    denied = denied_contract_fields(viewer)
    return {
        "client": _plain(
            {
                "name": client.name,
                "coc_number": client.coc_number,
                "vat_number": client.vat_number,
                "segment": client.segment,
            }
        ),
        "contact": _plain(
            {
                name: None if contact is None else getattr(contact, name)
                for name in PLACEHOLDERS["contact"]
            }
        ),
        "contract": GuardedValues(
            "contract", _contract_values(contract, viewer.today), denied, reads
        ),
        "owner": _plain(
            {
                "name": None if owner is None else owner.name,
                "email": None if owner is None else owner.email,
            }
        ),
        "organization": _plain({"name": organization.name}),
        "today": viewer.today.isoformat(),
    }


def _contract_values(contract: Contract, today: date) -> dict[str, Any]:
    notice_period = None
    if contract.notice_count is not None and contract.notice_unit is not None:
        notice_period = f"{contract.notice_count} {contract.notice_unit.value}"
    values: dict[str, Any] = {
        "name": contract.name,
        "number": contract.number,
        "description": contract.description,
        "status": contract_status(
            contract.stage, contract.start_date, contract.end_date, today
        ).value,
        "start_date": contract.start_date,
        "end_date": contract.end_date,
        "signed_date": contract.signed_date,
        "notice_deadline": contract.notice_deadline,
        "notice_period": notice_period,
        "auto_renewal": "yes" if contract.auto_renewal else "no",
        "payment_frequency": contract.payment_frequency.value,
        "currency": contract.currency,
        "vat_rate": _percent(contract.vat_rate_bp),
        "indexation": _percent(contract.indexation_bp),
        "renewal_price_agreement": contract.renewal_price_agreement,
        "amount": None,
        "mrr": None,
        "arr": None,
        "total_contract_value": None,
    }
    if contract.amount_minor is not None:
        frequency = PaymentFrequency(contract.payment_frequency)
        currency = contract.currency
        mrr = monthly_recurring(contract.amount_minor, frequency)
        total = total_contract_value(
            contract.amount_minor, frequency, contract.start_date, contract.end_date
        )
        values["amount"] = from_minor_units(contract.amount_minor, currency)
        values["mrr"] = present(mrr, currency)
        values["arr"] = present(mrr * 12, currency)
        values["total_contract_value"] = (
            None if total is None else from_minor_units(total, currency)
        )
    return _plain(values)


def _percent(basis_points: int | None) -> Decimal | None:
    return None if basis_points is None else Decimal(basis_points).scaleb(-2)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Turn values into the text a document shows: None becomes empty."""
    shown: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            shown[name] = ""
        elif isinstance(value, date | Decimal):
            shown[name] = (
                str(value) if isinstance(value, Decimal) else value.isoformat()
            )
        else:
            shown[name] = str(value)
    return shown


def render_template(content: bytes, context: dict[str, Any], reads: set[str]) -> bytes:
    """Render a DOCX template with `context` and return the new DOCX file.

    Raises ProtectedFieldRead when the template read a denied value, and
    TemplateInvalid when rendering fails.
    """
    template = DocxTemplate(io.BytesIO(content))
    # NOTE: a render has no time limit. The sandbox caps range() at 100,000 items,
    # but nested loops can still run long. Only users with 'contract_type:write'
    # upload templates.
    try:
        template.render(context, jinja_env=sandbox(), autoescape=True)
    except Exception as error:
        # A template is code written by users: any error of its own, such as a
        # division by zero or a range() over the sandbox's limit, is theirs to fix.
        if reads:
            raise ProtectedFieldRead(sorted(reads)) from None
        reason = str(error).rstrip(".") or type(error).__name__
        raise TemplateInvalid(
            f"The template could not be rendered: {reason}. Correct the template "
            "and upload it again."
        ) from None
    if reads:
        raise ProtectedFieldRead(sorted(reads))
    output = io.BytesIO()
    template.save(output)
    return output.getvalue()
