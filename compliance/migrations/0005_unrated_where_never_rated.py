"""Cases and relationships that still hold the old default "medium" although no risk model ever
rated them become "unrated" (the default since onboarding 0011).

Never rated means: no risk assessment names the row (for a relationship, neither directly nor
through one of its cases), and no audit event records a rating of it. Each converted row gets
an audit event saying why. Reversing changes nothing: "unrated" is the truth for those rows.
"""
from django.db import migrations

REASON = "the default 'medium' was never a rating: no risk model rated this client"


def _event(AuditEvent, row, label: str, event_type: str) -> object:
    return AuditEvent(firm_id=row.firm_id, actor=None, subject_type=label, subject_id=str(row.pk),
                      event_type=event_type, reason=REASON, detail={"from": "medium", "to": "unrated"})


def medium_never_rated_to_unrated(apps, schema_editor):
    OnboardingCase = apps.get_model("onboarding", "OnboardingCase")
    Relationship = apps.get_model("onboarding", "Relationship")
    RiskAssessment = apps.get_model("compliance", "RiskAssessment")
    AuditEvent = apps.get_model("onboarding", "AuditEvent")

    rated_cases = set(RiskAssessment.objects.exclude(case_id=None).values_list("case_id", flat=True))
    rated_cases |= {int(pk) for pk in AuditEvent.objects.filter(
        subject_type="onboarding.onboardingcase", event_type="case.risk_rated").values_list("subject_id", flat=True)}
    rated_relationships = set(RiskAssessment.objects.exclude(relationship_id=None)
                              .values_list("relationship_id", flat=True))
    rated_relationships |= set(OnboardingCase.objects.filter(pk__in=rated_cases)
                               .values_list("relationship_id", flat=True))
    rated_relationships |= {int(pk) for pk in AuditEvent.objects.filter(
        subject_type="onboarding.relationship", event_type="relationship.risk_rated").values_list("subject_id", flat=True)}

    cases = list(OnboardingCase.objects.filter(risk_level="medium").exclude(pk__in=rated_cases))
    relationships = list(Relationship.objects.filter(risk_level="medium").exclude(pk__in=rated_relationships))
    OnboardingCase.objects.filter(pk__in=[c.pk for c in cases]).update(risk_level="unrated")
    Relationship.objects.filter(pk__in=[r.pk for r in relationships]).update(risk_level="unrated")
    AuditEvent.objects.bulk_create(
        [_event(AuditEvent, c, "onboarding.onboardingcase", "case.risk_unrated") for c in cases]
        + [_event(AuditEvent, r, "onboarding.relationship", "relationship.risk_unrated") for r in relationships])


class Migration(migrations.Migration):

    dependencies = [
        ("compliance", "0004_alter_clearedmatch_options"),
        ("onboarding", "0011_risk_level_unrated"),
    ]

    operations = [
        migrations.RunPython(medium_never_rated_to_unrated, migrations.RunPython.noop),
    ]
