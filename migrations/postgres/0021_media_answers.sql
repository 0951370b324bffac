-- [7/10] An owner's photo or document sent to the business number: its kind and the provider's
-- references to the file (MessageMeta JSON), encrypted under the tenant key like the caption in
-- body_enc; cleared with it once the command ran.
ALTER TABLE owner_messages ADD COLUMN meta_enc text;

-- Send customers' images to a vision-capable model and voice notes to the transcription
-- endpoint; media_policy (reply or escalate) stays the answer when understanding is off or fails.
ALTER TABLE tenants ADD COLUMN understand_media boolean NOT NULL DEFAULT false;
