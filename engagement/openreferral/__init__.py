"""Open Referral UK 3.0: a school starts its partner directory from the local authority's (or the
Family Hub's) directory of services, keeps it up to date by importing it again, and gives its own
directory back in the same standard. The official schemas are in ``shared/standards/oruk-3.0``.

**Import** (:func:`import_oruk`) reads JSON files, uploads or a feed's base URL: a ``/services``
page (the paging wrapper with ``contents``), a JSON array of services, or one full service. A feed
is followed page by page, politely (:class:`FeedClient`: a timeout per request, a few retries
with backoff that honour ``Retry-After``, a pause between requests, one clear message per failure),
and nothing is written until every page has been read and every record checked.

Each service, with its organisation and location, becomes a service of a partner: one partner per
organisation and location (an organisation with services in two places is two partners, named
"Organisation – Place"), holding address, postcode, coordinates, an email, a phone, ages, costs,
languages, weekly sessions, eligibility and the status. A partner is active while any of its
services is active or temporarily closed, lapsed once all are inactive or defunct. ``assured_date``
is when the partner was last checked. Taxonomy terms map onto the typology's categories through
``data/oruk_categories.toml`` (:func:`load_category_map`); a service none of whose terms maps is
listed with its terms and either takes the default category given or is left out: never guessed.

A re-import matches partners by their Open Referral organisation and location and services by
their Open Referral id. Each partner and service keeps the feed's values as last imported
(``oruk_record``): a stored value still equal to it follows the feed; one that differs is the
school's own (a status it set, a contact it corrected) and stays. Notes, contacts the school
typed, the partner's history and links to families are the school's and never touched; a value
the feed leaves out never erases one. Services imported before that the feed no longer lists are
closed (``inactive``), never deleted. :func:`plan_import` (the dry run) says what would be
added, changed and closed; :func:`import_oruk` writes it in one transaction with one audit event.

**Export** (:func:`export_oruk`) writes ``services/<id>.json`` (one full service record each) and
``services.json`` (one ``/services`` page holding them all), with no field the UK profile does not
define, so each validates against the compiled schemas. Every partner and service has an Open
Referral id: the one it came with, else one made from its own reference (a UUID 5), so an export
imported again matches what it came from and changes nothing. What the profile has no place for
travels as taxonomy terms of the app's own taxonomies (the category, tags, way in, SEND,
languages, eligibility, delivery). The UK profile has no phone numbers: a partner's phone is not
exported.

The package's parts: :mod:`.fetch` (reading a feed over HTTP), :mod:`.read` (documents into
records, a record into the directory's values), :mod:`.categories` (terms onto the typology),
:mod:`.importing` (the plan, the merge and the write) and :mod:`.export`.
"""

from engagement.openreferral.categories import CATEGORY_MAP_FILE, CategoryMap, CategoryMapError, load_category_map
from engagement.openreferral.common import (
    CLOSED_STATUS,
    LOCAL_OFFER,
    NAMESPACE,
    OPEN_STATUSES,
    PARTNER_FIELDS,
    SERVICE_FIELDS,
    file_stem,
    made_id,
)
from engagement.openreferral.export import (
    export_oruk,
    export_records,
    export_zip,
    list_item,
    service_record,
    services_page,
)
from engagement.openreferral.fetch import (
    FeedClient,
    FeedError,
    Refused,
    address_refusal,
    checked_addresses,
    fetch_feed,
    iter_feed,
    public_url,
)
from engagement.openreferral.importing import (
    Change,
    OrukReport,
    ReadFeed,
    import_oruk,
    import_records,
    plan_import,
    read_directory,
    read_records,
    read_web_directory,
    source_key,
)
from engagement.openreferral.read import (
    FeedService,
    Problem,
    read_service,
    read_sources,
    records_of,
    source_text,
)
from engagement.typology import load_typology

__all__ = [
    "CATEGORY_MAP_FILE",
    "CLOSED_STATUS",
    "LOCAL_OFFER",
    "NAMESPACE",
    "OPEN_STATUSES",
    "PARTNER_FIELDS",
    "SERVICE_FIELDS",
    "CategoryMap",
    "CategoryMapError",
    "Change",
    "FeedClient",
    "FeedError",
    "FeedService",
    "OrukReport",
    "Problem",
    "ReadFeed",
    "Refused",
    "address_refusal",
    "checked_addresses",
    "export_oruk",
    "export_records",
    "export_zip",
    "fetch_feed",
    "file_stem",
    "import_oruk",
    "import_records",
    "iter_feed",
    "list_item",
    "load_category_map",
    "load_typology",
    "made_id",
    "plan_import",
    "public_url",
    "read_directory",
    "read_records",
    "read_service",
    "read_sources",
    "read_web_directory",
    "records_of",
    "service_record",
    "services_page",
    "source_key",
    "source_text",
]
