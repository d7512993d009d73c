// Package open311 speaks Open311 GeoReport v2 for package incident: it
// publishes the catalogue as Open311 services, reads citizens' service
// requests into incident.Report, and writes cases as Open311 service
// requests, with mySociety's FixMyStreet extended statuses when asked.
//
// # What Open311 is
//
// Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2) is the open standard
// by which apps report non-emergency city problems — potholes, graffiti,
// dumped waste — to a city's system and follow them. Its main calls: GET
// services (the types of problem), GET services/{code} (the questions each
// asks), POST requests (a report), GET requests and GET requests/{id} (their
// status). An app written for one Open311 city works in any other, and
// FixMyStreet, SeeClickFix and many city CRMs speak it. This package gives
// an HTTP layer the bodies of those calls; it serves nothing itself.
//
// # What maps to what
//
//	Open311                       govkit
//	service (service_code)        incident.Category (Code)
//	service_name, description     Category.Name
//	group, keywords               Category.Major; Kind, Minor, StandardCode
//	attribute (code, datatype…)   incident.Attribute (Code, Type…); order from 1
//	POST request                  incident.Report, Channel CitizenApp
//	attribute[code]=value         Report.Attributes[code]
//	lat, long                     Report.Point (WGS-84)
//	address_string                Report.Address
//	first_name, last_name, phone  Report.Name, Report.Phone (pii.Data)
//	service_request_id            Incident.ID
//	status open/closed            Status.Open()
//	extended status               Status and Resolution (ExtendedStatus)
//	requested_datetime            Times.Reported
//	updated_datetime              the latest of Times
//	expected_datetime             the SLA deadline of an open case
//	media_url                     the first Evidence URI
//
// Services and ServiceDefinition publish the catalogue; ParseServiceRequest
// and ParseServiceRequestForm read a POST body (JSON or form-encoded) for
// Service.Report; FromIncident writes a case for GET requests; and
// ParseServiceRequests reads another system's GET requests response, to
// mirror its cases.
//
// # What is lost
//
// govkit's closed loop has more steps than Open311 has statuses, so the
// round trip is lossy in places (see ExtendedStatus for the table): Disposed
// and Verifying are exported as IN_PROGRESS, Rejected and a Cancelled
// closure as CLOSED, and Evaluated as its resolution; an imported CLOSED
// has no resolution. The spec's plain status keeps only open or closed.
//
// A POST request may locate a problem by address alone; govkit needs a
// point, does not geocode, and refuses such a request with a clear error.
// address_id and email have no place in a Report and are dropped;
// media_url becomes evidence only with a content hash (the media_sha256
// extension). Attribute order numbers are renumbered from 1.
//
// # Personal data
//
// Reporters' names and phone numbers enter as pii.Data, never as strings,
// and FromIncident never writes them: the reporters are not exported at
// all, and a mobile number a citizen typed into the description is masked.
// No error repeats a phone number, name or email address.
package open311
