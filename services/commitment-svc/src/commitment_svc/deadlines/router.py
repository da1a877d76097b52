from fastapi import APIRouter
from pledge_common.db import SessionDep

from commitment_svc.deadlines import service
from commitment_svc.deadlines.schemas import DeadlinePreview, DeadlinePreviewRequest

router = APIRouter(prefix="/v1/deadlines", tags=["deadlines"])


@router.post("/preview")
async def preview_deadline(session: SessionDep, body: DeadlinePreviewRequest) -> DeadlinePreview:
    """Due instants of the commitment and tolerance limits for a start instant and pauses (nothing is stored)."""
    return await service.preview(session, body)
