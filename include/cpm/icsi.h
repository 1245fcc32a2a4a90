/* CPM service identifiers (IMS Communication Service Identifiers) as feature tags, for
 * Contact and Accept-Contact (OMA CPM, 3GPP TS 24.229; ../shared/standards.md §5.1). */
#ifndef CPM_ICSI_H
#define CPM_ICSI_H

/* The CPM file-transfer ICSI, URN-escaped as a feature-tag value. */
#ifndef CPM_FT_ICSI_TAG
#define CPM_FT_ICSI_TAG "+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm.filetransfer\""
#endif

#endif
