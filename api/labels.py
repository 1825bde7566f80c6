"""AI labelling (Kazakhstan AI law, art. 21): machine-readable provenance and a visible notice per fine."""

from __future__ import annotations

import json

from api.models import AIProvenance, Fine, Notice, Violation

_TYPE_NAMES = {
    "littering": ("выброс мусора в общественном месте", "қоғамдық орында қоқыс тастау", "littering"),
    "smoking": (
        "курение в запрещённом месте",
        "тыйым салынған жерде темекі шегу",
        "smoking in a no-smoking zone",
    ),
    "jaywalking": (
        "переход дороги в неустановленном месте",
        "жолды белгіленбеген жерден кесіп өту",
        "crossing the road outside a crossing",
    ),
}


def provenance(fine: Fine, violation: Violation, *, confirmed_by: str | None) -> AIProvenance:
    thresholds = json.loads(violation.record_json).get("thresholds", {})
    return AIProvenance(
        model_id=violation.model_id,
        model_version=violation.model_version,
        model_sha256=violation.model_sha256,
        thresholds={str(k): float(v) for k, v in thresholds.items()},
        confidence=violation.confidence,
        camera_id=violation.camera_id,
        software_version=violation.software_version,
        config_hash=violation.config_hash,
        decision_route=fine.route,
        human_confirmed=fine.human_confirmed,
        confirmed_by=confirmed_by if fine.human_confirmed else None,
        decided_at=fine.decided_at,
    )


def notice(fine: Fine, violation: Violation) -> Notice:
    ru_type, kk_type, en_type = _TYPE_NAMES.get(fine.violation_type, (fine.violation_type,) * 3)
    when = violation.onset.strftime("%Y-%m-%d %H:%M UTC")
    model = f"{violation.model_id} {violation.model_version}"
    case = fine.id
    if fine.human_confirmed:
        ru_h, kk_h, en_h = (
            "Нарушение проверено и подтверждено сотрудником.",
            "Құқық бұзушылықты қызметкер тексеріп, растады.",
            "A human reviewer checked and confirmed it.",
        )
    else:
        ru_h, kk_h, en_h = (
            "Решение принято без проверки человеком.",
            "Шешім адамның тексеруінсіз қабылданды.",
            "No human has reviewed it yet.",
        )
    return Notice(
        ru=(
            f"Нарушение «{ru_type}» ({when}, камера {violation.camera_id}) выявлено автоматически системой "
            f"искусственного интеллекта (модель {model}). {ru_h} Вы вправе обжаловать решение: укажите номер "
            f"дела {case} и запросите доказательства и рассмотрение человеком в уполномоченном органе "
            "или через eGov."
        ),
        kk=(
            f"«{kk_type}» құқық бұзушылығы ({when}, камера {violation.camera_id}) жасанды интеллект "
            f"жүйесімен автоматты түрде анықталды (модель {model}). {kk_h} Сіз шешімге шағымдана аласыз: "
            f"іс нөмірін {case} көрсетіп, уәкілетті органнан немесе eGov арқылы дәлелдемелерді және "
            "адамның қарауын сұраңыз."
        ),
        en=(
            f'The violation "{en_type}" ({when}, camera {violation.camera_id}) was detected automatically '
            f"by an artificial-intelligence system (model {model}). {en_h} You may contest it: quote case "
            f"number {case} and ask the issuing authority (or eGov) for the evidence and a review by "
            "a person."
        ),
    )
