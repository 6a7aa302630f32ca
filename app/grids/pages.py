"""The grid's page, /g/{token}: what the QR code opens."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import SessionDep
from app.errors import Gone, NotFound
from app.grids import service as grid_service
from app.grids.models import GridToken
from app.phones import display_phone
from app.web import error_page, render

router = APIRouter(include_in_schema=False)


@router.get("/g/{token}", response_class=HTMLResponse)
def grid_page(token: str, request: Request, session: SessionDep) -> HTMLResponse:
    try:
        grid = grid_service.resolve_token(session, token=token)
    except Gone:
        # The old poster's grid is known; its community's number still helps the resident.
        row = session.get(GridToken, token)
        phone = None
        if row is not None:
            old = session.get(grid_service.Grid, row.grid_id)
            phone = grid_service.describe(session, grid=old).office_phone if old else None
        return error_page(request, status_code=410, title_key="replaced_title", message_key="token_replaced",
                          office_phone=phone)
    except NotFound:
        return error_page(request, status_code=404, title_key="not_found_title", message_key="grid_not_found")
    view = grid_service.describe(session, grid=grid)
    return render(request, "grid.html", view=view, office_phone=display_phone(view.office_phone),
                  office_phone_e164=view.office_phone)
