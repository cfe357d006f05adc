"""How the referral routes turn a decision's outcome into an HTTP answer."""

from typing import Any

from fastapi import HTTPException, status

from ensemble_runtime.audit import audit_detail
from ensemble_runtime.definition import Command
from ensemble_runtime.service import ServiceRuntime
from referral.adapters import views
from referral.domain.referral import InvalidAssignment, InvalidTransition, Referral
from referral.service_layer.handlers import NotFound


def conflict(error: InvalidTransition) -> HTTPException:
    """409 naming the referral's status and where it may go from there."""
    return HTTPException(
        status.HTTP_409_CONFLICT,
        {"message": str(error), "status": error.current, "allowed": error.allowed},
    )


async def decided(
    runtime: ServiceRuntime[Any, Any], action: str, command: Command[Referral]
) -> dict[str, Any]:
    """Run one decision on one referral: the referral as it now is, or 404 / 409 / 422 and
    nothing changed."""
    changed = 0
    try:
        referral = await runtime.execute(command)
        changed = 1
        return views.referral_json(referral)
    except NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    except InvalidTransition as error:
        raise conflict(error) from error
    except InvalidAssignment as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    finally:  # decisions are audited too: the events say what changed, the audit says who
        audit_detail(action=action, referrals=changed)
