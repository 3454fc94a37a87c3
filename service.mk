# The image service's settings, shared by its functions (image_resize, image_list, image_sweeper) and the
# top-level targets that drive the service (upload, local-env). A function of your own does not
# include this file. Values may name ${ACCOUNT_ID} and ${REGION}: the deploy fills them in.

#: bucket the browser and curl upload to
UPLOAD_BUCKET ?= $(APP)-$(STAGE)-uploads-$${ACCOUNT_ID}-$${REGION}
#: bucket the resized images go to
RESIZED_BUCKET ?= $(APP)-$(STAGE)-resized-$${ACCOUNT_ID}-$${REGION}
#: key prefix of uploads (the trigger's filter)
UPLOAD_PREFIX ?= uploads/
#: days a refused original stays in the upload bucket before it expires
REJECTED_DAYS ?= 30
#: how the gallery is served: url (a function URL) or http_api (an API Gateway HTTP API)
GALLERY_FRONT ?= url
#: origin allowed to POST uploads (CORS); by default the gallery's own
GALLERY_ORIGIN ?=
#: the resize function the sweeper re-drives (its alias)
RESIZE_FUNCTION ?= ResizeImage-$(STAGE):live
