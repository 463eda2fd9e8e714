"""Write a generated DECP file (French procurement JSON) for import benchmarks.

    .venv/bin/python -m bench.decp_file RECORDS PATH

The file has a `marches` list of RECORDS contracts of 1,000 buyers, each with
one supplier, an amount in euros and cents, and a duration in months, shaped
like the records that data.gouv.fr publishes (about 630 bytes each). No record
has amendments, so importing the file writes each contract once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BUYERS = 1000


def decp_record(index: int) -> dict[str, object]:
    """Return contract record `index` (from 1) of a generated DECP file."""
    buyer = index % BUYERS
    return {
        "_type": "Marché",
        "uid": f"2{buyer:013d}2024M{index:08d}",
        "id": f"2024M{index:08d}",
        "acheteur": {"id": f"2{buyer:013d}", "nom": f"Commune numéro {buyer}"},
        "nature": "Marché",
        "objet": f"Entretien des espaces verts, lot {index}",
        "codeCPV": "77310000-6",
        "procedure": "Procédure adaptée",
        "lieuExecution": {"code": "75001", "typeCode": "Code postal", "nom": "Paris"},
        "dureeMois": 12 + index % 36,
        "dateNotification": "2024-03-15",
        "datePublicationDonnees": "2024-04-01",
        # Euros and cents, so the reader has to keep non-integer numbers exact.
        # A float of cents / 100 prints as its shortest form, such as 1001.01.
        "montant": ((1000 + index % 90_000) * 100 + index % 100) / 100,
        "formePrix": "Ferme",
        "titulaires": [
            {
                "typeIdentifiant": "SIRET",
                "id": f"3{index % 50_000:013d}",
                "denominationSociale": f"Paysagiste {index % 50_000}",
            }
        ],
        "modifications": [],
    }


def write_decp(path: Path, records: int) -> None:
    """Write a DECP file of `records` contracts, one record at a time."""
    with path.open("w", encoding="utf-8") as output:
        output.write('{"marches": [\n')
        for index in range(1, records + 1):
            output.write(json.dumps(decp_record(index), ensure_ascii=False))
            output.write(",\n" if index < records else "\n")
        output.write("]}\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=int, help="number of contract records")
    parser.add_argument("path", type=Path, help="file to write")
    args = parser.parse_args()
    write_decp(args.path, args.records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
