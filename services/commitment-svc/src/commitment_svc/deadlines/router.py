from fastapi import APIRouter
from pledge_common.db import SessionDep
from pledge_common.scopes import Scope, scoped

from commitment_svc.deadlines import service
from commitment_svc.deadlines.schemas import DeadlinePreview, DeadlinePreviewRequest

router = APIRouter(prefix="/v1/deadlines", tags=["deadlines"], dependencies=scoped(Scope.definitions_read))


@router.post("/preview")
async def preview_deadline(session: SessionDep, body: DeadlinePreviewRequest) -> DeadlinePreview:
    """Due instants of the commitment and tolerance limits for a start instant and pauses (nothing is stored)."""
    return await service.preview(session, body)
