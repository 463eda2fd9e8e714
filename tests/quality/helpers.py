"""GraphQL documents and helpers shared by the data quality tests."""

from __future__ import annotations

from typing import Any

from contractgql.ids import decode_id
from contractgql.models import Document, DocumentKind
from tests.conftest import Api
from tests.graphql.helpers import FIELD_ERRORS

RULE_FIELDS = "id name fields stages version archivedAt contractType { id name }"
CREATE_RULE = f"""
mutation CreateRule($input: RequiredFieldRuleInput!) {{
  createRequiredFieldRule(input: $input) {{ record {{ {RULE_FIELDS} }} {FIELD_ERRORS} }}
}}
"""
UPDATE_RULE = f"""
mutation UpdateRule($id: ID!, $input: RequiredFieldRuleInput!, $version: Int) {{
  updateRequiredFieldRule(id: $id, input: $input, expectedVersion: $version) {{
    record {{ {RULE_FIELDS} }} {FIELD_ERRORS}
  }}
}}
"""
DELETE_RULE = f"""
mutation DeleteRule($id: ID!) {{
  deleteRequiredFieldRule(id: $id) {{ record {{ {RULE_FIELDS} }} {FIELD_ERRORS} }}
}}
"""
LIST_RULES = f"""
query Rules($includeArchived: Boolean) {{
  requiredFieldRules(first: 50, includeArchived: $includeArchived) {{
    totalCount nodes {{ {RULE_FIELDS} }}
  }}
}}
"""
CREATE_TYPE = f"""
mutation CreateType($input: ContractTypeInput!) {{
  createContractType(input: $input) {{ record {{ id name }} {FIELD_ERRORS} }}
}}
"""
COMPLETENESS = """
query Completeness($filter: ContractFilter) {
  contractCompleteness(first: 20, filter: $filter) {
    totalCount
    nodes {
      contract { id name }
      score complete checkedFields
      missing { field requiredBy { name } }
      suspicious { kind }
    }
  }
}
"""
SUMMARY = """
query Summary($groupBy: CompletenessGrouping!, $filter: ContractFilter) {
  completenessSummary(groupBy: $groupBy, filter: $filter) {
    contractType { name } owner { name }
    contracts complete share
    missing { field contracts }
  }
}
"""
SIGNALS = """
query Signals($kinds: [QualitySignalKind!], $quietDays: Int) {
  qualitySignals(kinds: $kinds, quietDays: $quietDays, first: 500) {
    totalCount
    signals {
      kind reason fix fields
      contract { id name } client { name } otherClient { name }
    }
  }
}
"""


async def create_type(api: Api, name: str) -> str:
    data = await api.data(CREATE_TYPE, {"input": {"name": name}})
    assert data["createContractType"]["errors"] == []
    type_id: str = data["createContractType"]["record"]["id"]
    return type_id


async def create_rule(api: Api, values: dict[str, Any]) -> dict[str, Any]:
    data = await api.data(CREATE_RULE, {"input": values})
    payload = data["createRequiredFieldRule"]
    assert payload["errors"] == []
    rule: dict[str, Any] = payload["record"]
    return rule


async def add_signed_document(api: Api, contract_id: str) -> None:
    """Store a signed contract document with one version, as an upload would."""
    _, pk = decode_id(contract_id)
    await Document.create(
        organization_id=api.tenant.organization.id,
        contract_id=pk,
        kind=DocumentKind.SIGNED_CONTRACT,
        name="signed.pdf",
        last_version_number=1,
    )


def by_name(nodes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {node["contract"]["name"]: node for node in nodes}
