"""The requesters' portal: their view of a ticket, their replies and ratings, by signed link."""
